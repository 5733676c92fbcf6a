"""reverseSync: the new stack's writes to users and images, from their DynamoDB streams, back into MongoDB.

While both stacks are live, a user moved to the new stack writes there; this keeps the legacy database holding
those writes, so moving users back (a rollback) loses nothing. Rules (the same versions as `migration.sync`):

- Insert/modify: only what the new stack wrote (`origin` = aws) is written back; the forward sync's own writes are
  echoes. Written when the item's `sourceVersion` is newer than the legacy document's version; an older one is a
  conflict the legacy side won (counted; the forward sync brings the newer legacy version over). The write is
  conditional on the document not having changed since it was read, and retried if it did. A tie (the same
  millisecond on both sides) goes to the new stack's write here as in the forward sync. A document that is
  gone comes back only when the item is newer than the delete's tombstone (functions/shared/tombstones.py).
- Remove: a user's delete only when a tombstone at least as new as the removed item exists - the new stack's
  (`DELETE /images/{id}`) or the forward sync's (a legacy delete: then this undoes a document the reverse sync
  brought back in between). The document is deleted unless it changed after the delete (a conflict the legacy
  side won). Any other REMOVE - the forward sync moving an image to a corrected `createdAt`, a TTL expiry - is
  not a delete, whoever wrote the item last.
- Values go back to the BSON types the document holds (binary of its subtype, Decimal128, dates, ObjectIds, ...:
  `bson_values` in functions/shared/legacy_documents.py), binary arriving as base64 text as Lambda delivers it.

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

from functions.shared.aws import LazyClient
from functions.shared.legacy_documents import (
    KEY_OF,
    bson_values,
    document_version,
    item_version,
    legacy_document,
    legacy_id,
    removed_fields,
)
from functions.shared.secrets import api_key as secret
from functions.shared.settings import table_name
from functions.shared.state_documents import read_document, write_document
from functions.shared.tombstones import read_tombstone
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_AWS, VERSION_ATTRIBUTE, now_timestamp

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


def _origin(image: dict[str, Any]) -> str | None:
    return (image.get(ORIGIN_ATTRIBUTE) or {}).get("S")


def _version(image: dict[str, Any]) -> int:
    return int((image.get(VERSION_ATTRIBUTE) or {}).get("N") or 0)


def apply(collection: str, event_name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    """One stream record (its images as attribute values) -> the legacy document. Returns the outcome (applied,
    deleted, echo, conflict, not-a-delete, deleted-later, ...)."""
    image = new if event_name != "REMOVE" else old
    if not image:
        return "echo"
    item_id = image[KEY_OF[collection]]["S"]
    if event_name == "REMOVE":
        tombstone = read_tombstone(DYNAMODB, STATE_TABLE, collection, item_id)
        if tombstone is None or tombstone.version < _version(image):
            return "not-a-delete"  # a sort-key move or an expiry: no delete as new as this item happened
        deleted_at = tombstone.version
    elif _origin(image) != ORIGIN_AWS:
        return "echo"  # written by the migration or the forward sync: it came from MongoDB
    documents = _database()[collection]
    _id = legacy_id(item_id)
    for _ in range(WRITE_ATTEMPTS):
        current = documents.find_one({"_id": _id})
        try:
            if event_name == "REMOVE":
                return _delete(documents, current, deleted_at)
            if current is None:
                tombstone = read_tombstone(DYNAMODB, STATE_TABLE, collection, item_id)
                if tombstone is not None and tombstone.version >= _version(image):
                    return "deleted-later"  # the delete is newer than this write: it stays deleted
            return _upsert(documents, collection, current, old, image)
        except Changed:
            continue
    raise RuntimeError(f"{collection} {_id}: the legacy document kept changing during {WRITE_ATTEMPTS} attempts")


def _unchanged(current: dict[str, Any]) -> dict[str, Any]:
    """A filter matching the document only as it was read (its version field, or its absence)."""
    return {"_id": current["_id"], "updatedAt": current.get("updatedAt")}


def _upsert(documents: Any, collection: str, current: dict[str, Any] | None, old_image: dict[str, Any] | None,
            new_image: dict[str, Any]) -> str:
    new = bson_values(new_image, current)
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
    if legacy_version == version and current.get(VERSION_ATTRIBUTE) == version:
        return "replay"  # this very write, already here (the legacy app never sets sourceVersion itself)
    # Same millisecond on both sides: the new stack's write wins, as the forward sync decides the same tie.
    update: dict[str, Any] = {"$set": {k: v for k, v in doc.items() if k != "_id"}}
    removed = removed_fields(collection, bson_values(old_image, current) if old_image else None, new)
    if removed:
        update["$unset"] = {name: "" for name in removed}
    if documents.update_one(_unchanged(current), update).matched_count != 1:
        raise Changed
    return "applied"


def _delete(documents: Any, current: dict[str, Any] | None, deleted_at_ms: int) -> str:
    if current is None:
        return "absent"
    if document_version(current) > deleted_at_ms:
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
    raw = record.raw_event.get("dynamodb") or {}
    old, new = raw.get("OldImage"), raw.get("NewImage")  # attribute values as delivered (binary as base64)
    outcome = apply(collection, record.event_name.name if record.event_name else "", old, new)
    key = ((new or old or {}).get(KEY_OF[collection]) or {}).get("S", "?")
    batch.record(collection, outcome, key, changed_at_ms)
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
