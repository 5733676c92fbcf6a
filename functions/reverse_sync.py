"""reverseSync: the new stack's writes to users and images, from their DynamoDB streams, back into MongoDB.

While both stacks are live, a user moved to the new stack writes there; this keeps the legacy database holding
those writes, so moving users back (a rollback) loses nothing. Rules (the same versions as `migration.sync`):

- Only changes the new stack made (`origin` = aws) are written back; the forward sync's own writes are echoes.
- Insert/modify: written when the item's `sourceVersion` is newer than the legacy document's version; an older one
  is a conflict the legacy side won (counted; the forward sync brings the newer legacy version over). The write is
  conditional on the document not having changed since it was read, and retried if it did.
- Remove: the document is deleted unless it changed on the legacy side after the item was removed.

Records that fail are reported one by one (partial batch response): Lambda retries from there, bisecting the batch,
and after the retries the event source sends them to the failure queue. A heartbeat with the lag goes to the
migration-state table (`reverse#<collection>`), where the cutover gate reads it.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import pymongo
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError
from pymongo.errors import DuplicateKeyError

from functions.shared.aws import LazyClient, from_item
from functions.shared.legacy_documents import (
    KEY_OF,
    document_version,
    item_version,
    legacy_document,
    legacy_id,
    removed_fields,
)
from functions.shared.secrets import api_key as secret
from functions.shared.settings import table_name
from functions.shared.state_documents import read_document, write_document
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_AWS, now_timestamp

WRITE_ATTEMPTS = 3
RECENT_CONFLICTS = 20

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
DYNAMODB = LazyClient("dynamodb")
STATE_TABLE = table_name("migration-state")
COLLECTIONS = {table_name(collection): collection for collection in KEY_OF}


class Changed(Exception):
    """The legacy document changed between read and write; try again."""


@functools.cache
def _database() -> Any:
    """One client per execution environment; the URI (a secret) names the database."""
    client = pymongo.MongoClient(secret("legacyMongoUri"), serverSelectionTimeoutMS=5000, connectTimeoutMS=5000)
    return client.get_default_database("mumble")


def _collection_of(record: DynamoDBRecord) -> str:
    table = (record.event_source_arn or "").split(":table/", 1)[-1].split("/", 1)[0]
    if table not in COLLECTIONS:
        raise ValueError(f"a record from table {table!r}, which is not synced back")
    return COLLECTIONS[table]


def _plain(image: dict[str, Any] | None) -> dict[str, Any] | None:
    return from_item(image) if image else None


def apply(collection: str, event_name: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
          changed_at_ms: int) -> str:
    """One stream record -> the legacy document. Returns the outcome (applied, deleted, echo, conflict, ...)."""
    image = new if event_name != "REMOVE" else old
    if not image or image.get(ORIGIN_ATTRIBUTE) != ORIGIN_AWS:
        return "echo"  # written by the migration or the forward sync: it came from MongoDB
    documents = _database()[collection]
    _id = legacy_id(image[KEY_OF[collection]])
    for _ in range(WRITE_ATTEMPTS):
        current = documents.find_one({"_id": _id})
        try:
            if event_name == "REMOVE":
                return _delete(documents, current, changed_at_ms)
            return _upsert(documents, collection, current, old, new)  # type: ignore[arg-type]
        except Changed:
            continue
    raise RuntimeError(f"{collection} {_id}: the legacy document kept changing during {WRITE_ATTEMPTS} attempts")


def _unchanged(current: dict[str, Any]) -> dict[str, Any]:
    """A filter matching the document only as it was read (its version field, or its absence)."""
    return {"_id": current["_id"], "updatedAt": current.get("updatedAt")}


def _upsert(documents: Any, collection: str, current: dict[str, Any] | None, old: dict[str, Any] | None,
            new: dict[str, Any]) -> str:
    doc = legacy_document(collection, new)
    if current is None:
        try:
            documents.insert_one(doc)
        except DuplicateKeyError:
            raise Changed from None
        return "applied"
    legacy_version, version = document_version(current), item_version(new)
    if legacy_version > version:
        return "conflict"
    if legacy_version == version:
        return "replay" if current.get(ORIGIN_ATTRIBUTE) == ORIGIN_AWS else "conflict"
    update: dict[str, Any] = {"$set": {k: v for k, v in doc.items() if k != "_id"}}
    removed = removed_fields(collection, old, new)
    if removed:
        update["$unset"] = {name: "" for name in removed}
    if documents.update_one(_unchanged(current), update).matched_count != 1:
        raise Changed
    return "applied"


def _delete(documents: Any, current: dict[str, Any] | None, removed_at_ms: int) -> str:
    if current is None:
        return "absent"
    if document_version(current) > removed_at_ms:
        return "conflict"
    if documents.delete_one(_unchanged(current)).deleted_count != 1:
        raise Changed
    return "deleted"


class Batch:
    """What one invocation did, per collection, for the heartbeat and the metrics."""

    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, int]] = {}
        self.conflicts: dict[str, list[dict[str, Any]]] = {}
        self.newest_change_ms: dict[str, int] = {}

    def record(self, collection: str, outcome: str, key: str, changed_at_ms: int) -> None:
        counts = self.outcomes.setdefault(collection, {})
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "conflict":
            self.conflicts.setdefault(collection, []).append(
                {"collection": collection, "id": key, "winner": "legacy", "at": now_timestamp()})
        self.newest_change_ms[collection] = max(self.newest_change_ms.get(collection, 0), changed_at_ms)


def handle_record(batch: Batch, record: DynamoDBRecord) -> None:
    collection = _collection_of(record)
    change = record.dynamodb
    created = change.approximate_creation_date_time if change else None
    # ApproximateCreationDateTime has second precision: the end of that second bounds when the change happened.
    changed_at_ms = (created + 1) * 1000 - 1 if created else int(time.time() * 1000)
    old, new = _plain(change.get("OldImage")), _plain(change.get("NewImage"))  # type: ignore[union-attr]
    outcome = apply(collection, record.event_name.name if record.event_name else "", old, new, changed_at_ms)
    batch.record(collection, outcome, str((new or old or {}).get(KEY_OF[collection], "?")), changed_at_ms)
    metrics.add_metric(name=f"ReverseSync_{outcome}", unit=MetricUnit.Count, value=1)


def heartbeat(batch: Batch) -> None:
    """`reverse#<collection>` in the migration-state table: lag, counts, the latest conflicts (read-modify-write,
    conditional on the version read, so two shards do not lose each other's counts)."""
    for collection, outcomes in batch.outcomes.items():
        state_id = f"reverse#{collection}"
        for _ in range(3):
            previous, version = read_document(DYNAMODB, STATE_TABLE, state_id)
            previous = previous or {}
            counts = dict(previous.get("counts", {}))
            for outcome, count in outcomes.items():
                counts[outcome] = counts.get(outcome, 0) + count
            document = {
                "lagSeconds": round(max(0.0, time.time() - batch.newest_change_ms[collection] / 1000), 3),
                "at": now_timestamp(), "counts": counts, "conflicts": counts.get("conflict", 0),
                "recentConflicts": (previous.get("recentConflicts", []) +
                                    batch.conflicts.get(collection, []))[-RECENT_CONFLICTS:]}
            try:
                write_document(DYNAMODB, STATE_TABLE, state_id, document, if_version=version)
                break
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = Batch()
    response = process_partial_response(event=event, record_handler=functools.partial(handle_record, batch),
                                        processor=processor, context=context)
    if batch.outcomes:
        heartbeat(batch)
        logger.info("reverse sync batch", extra={"outcomes": batch.outcomes,
                                                 "failed": len(response.get("batchItemFailures", []))})
    return response
