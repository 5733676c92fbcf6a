"""JSON documents in the migration-state table (`sync#users`, `reverse#images`, `verify#images`, ...).

One item format for every writer — the migration tools (`migration/state.py`) and the reverseSync function — and
for the cutover gate that reads them: `stateId`, the document as JSON in `state`, and `updatedAt` (when it was
written, which is also the version a conditional write compares).
"""

from __future__ import annotations

import json
from typing import Any

from functions.shared.versions import now_timestamp

ANY_VERSION: Any = object()  # write unconditionally


def read_document(client: Any, table: str, state_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The document and its `updatedAt` (both None when there is none), read consistently."""
    item = client.get_item(TableName=table, Key={"stateId": {"S": state_id}}, ConsistentRead=True).get("Item")
    return (json.loads(item["state"]["S"]), item["updatedAt"]["S"]) if item else (None, None)


def write_document(client: Any, table: str, state_id: str, document: dict[str, Any],
                   if_version: str | None = ANY_VERSION) -> None:
    """Store the document. `if_version`: the `updatedAt` read before it (None: there must be none yet); a write in
    between fails with ConditionalCheckFailedException, for the caller to read again."""
    condition: dict[str, Any] = {}
    if if_version is None:
        condition = {"ConditionExpression": "attribute_not_exists(stateId)"}
    elif if_version is not ANY_VERSION:
        condition = {"ConditionExpression": "updatedAt = :seen",
                     "ExpressionAttributeValues": {":seen": {"S": if_version}}}
    client.put_item(TableName=table, Item={
        "stateId": {"S": state_id}, "state": {"S": json.dumps(document, default=str)},
        "updatedAt": {"S": now_timestamp()}}, **condition)
