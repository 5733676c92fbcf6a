"""Checkpoints in the migration-state table: one item per collection and job (`load#images`, ...).

A checkpoint is the low-watermark legacy `_id` (every document at or below it is written or dead-lettered), the
counts up to it, and the change-stream position taken when the full load began, so the sync can replay what
changed during the load. Stored as JSON with extended-JSON ids, readable in the console.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from bson import json_util

from functions.shared.state_documents import ANY_VERSION, read_document, write_document
from functions.shared.versions import format_timestamp


@dataclass
class LoadCheckpoint:
    collection: str
    watermark: Any = None  # a legacy _id; None = nothing done yet
    counts: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    change_stream_token: Any = None  # the resume token at the start of the full load
    started_at: str = ""
    completed_at: str = ""


class StateStore:
    """Reads and writes checkpoints through a low-level DynamoDB client."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def load(self, job: str, collection: str) -> LoadCheckpoint | None:
        item = self.client.get_item(TableName=self.table, Key={"stateId": {"S": f"{job}#{collection}"}},
                                    ConsistentRead=True).get("Item")
        if not item:
            return None
        data = json_util.loads(item["state"]["S"])
        return LoadCheckpoint(**data)

    def save(self, job: str, checkpoint: LoadCheckpoint) -> None:
        self.client.put_item(TableName=self.table, Item={
            "stateId": {"S": f"{job}#{checkpoint.collection}"},
            "state": {"S": json_util.dumps(asdict(checkpoint), json_options=json_util.CANONICAL_JSON_OPTIONS)},
            "updatedAt": {"S": format_timestamp(dt.datetime.now(dt.timezone.utc))},
        })

    def save_document(self, state_id: str, document: dict[str, Any], if_version: str | None = ANY_VERSION) -> None:
        """Any other JSON state (the last verification result, a sync's heartbeat, a load's split, ...);
        `if_version` as `write_document` takes it (None: only if there is none yet)."""
        write_document(self.client, self.table, state_id, document, if_version)

    def load_document(self, state_id: str) -> dict[str, Any] | None:
        return read_document(self.client, self.table, state_id)[0]

    def delete(self, job: str, collection: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"stateId": {"S": f"{job}#{collection}"}})
