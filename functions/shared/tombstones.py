"""Deletes that carry a version: tombstones, so last-writer-wins covers deletes as it covers writes.

A deleted user or image leaves `tombstone#<collection>#<id>` in the migration-state table: the delete's version
(milliseconds), which side deleted it (`origin`), and an expiry (DynamoDB TTL, `TOMBSTONE_DAYS`: far longer than
any sync lag or rollback window). Every delete writes its tombstone in the same transaction as the delete itself:

- the new stack (`DELETE /images/{id}`, origin aws) - the reverse sync then deletes the legacy document unless it
  changed after the delete;
- the forward sync applying a legacy delete (origin legacy) - the reverse sync then removes a document only the
  reverse sync itself brought back in between (a write older than the delete that raced it).

A REMOVE on a table's stream is a user's delete only when a tombstone at least as new as the removed item exists;
every other REMOVE (the forward sync moving an image to its corrected sort key, a TTL expiry) is not. And a write
arriving for an item or document that is gone wins only when it is newer than the tombstone. The rule is the same
in both directions, so a delete racing a write resolves the same way on both sides: the later one wins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from functions.shared.versions import ORIGIN_ATTRIBUTE, millis_timestamp

TOMBSTONE_DAYS = 30
VERSION = "tombstoneVersion"
EXPIRES = "expiresAt"  # the migration-state table's TTL attribute
# Ties go to the delete on both sides: a tombstone is replaced by one as new (a replayed delete), and a write
# must be strictly newer than a tombstone to bring its item back.
REPLACEABLE = "attribute_not_exists(#tv) OR #tv <= :tv"
WRITE_WINS = "attribute_not_exists(#tv) OR #tv < :tv"
NAMES = {"#tv": VERSION}


@dataclass(frozen=True)
class Tombstone:
    version: int
    origin: str


def tombstone_id(collection: str, item_id: str) -> str:
    return f"tombstone#{collection}#{item_id}"


def tombstone_put(table: str, collection: str, item_id: str, version: int, origin: str) -> dict[str, Any]:
    """The `Put` of a TransactWriteItems: this delete's tombstone, unless a newer one is there already."""
    return {"Put": {
        "TableName": table, "ConditionExpression": REPLACEABLE, "ExpressionAttributeNames": NAMES,
        "ExpressionAttributeValues": {":tv": {"N": str(version)}},
        "Item": {"stateId": {"S": tombstone_id(collection, item_id)}, VERSION: {"N": str(version)},
                 ORIGIN_ATTRIBUTE: {"S": origin}, "deletedAt": {"S": millis_timestamp(version)},
                 "updatedAt": {"S": millis_timestamp(version)},
                 EXPIRES: {"N": str(int(time.time()) + TOMBSTONE_DAYS * 86400)}}}}


def older_than_write(table: str, collection: str, item_id: str, version: int) -> dict[str, Any]:
    """The `ConditionCheck` of a TransactWriteItems: no tombstone as new as this write (else the delete wins)."""
    return {"ConditionCheck": {
        "TableName": table, "Key": {"stateId": {"S": tombstone_id(collection, item_id)}},
        "ConditionExpression": WRITE_WINS, "ExpressionAttributeNames": NAMES,
        "ExpressionAttributeValues": {":tv": {"N": str(version)}}}}


def cancellation_codes(error: Any) -> list[str | None]:
    """A cancelled TransactWriteItems' reason per item, in the order they were sent (None: that one was fine)."""
    return [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]


def read_tombstone(client: Any, table: str, collection: str, item_id: str) -> Tombstone | None:
    item = client.get_item(TableName=table, Key={"stateId": {"S": tombstone_id(collection, item_id)}},
                           ConsistentRead=True).get("Item")
    if not item or VERSION not in item:
        return None
    return Tombstone(int(item[VERSION]["N"]), item.get(ORIGIN_ATTRIBUTE, {}).get("S", ""))
