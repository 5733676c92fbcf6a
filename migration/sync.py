"""`python -m migration.sync`: keep the DynamoDB tables following MongoDB while both stacks are live.

One MongoDB change stream per collection, started where the full load recorded its position (so changes made
during the load are replayed) and resumed from the token checkpointed in the migration-state table
(`sync#<collection>`) after every applied batch. Delivery is at least once; applying a change twice is harmless:

- insert/update/replace: the document is converted by the load's own mapper and written with a conditional put
  that only wins when its source version (legacy `updatedAt`, ms) is newer than the item's, or equal and the item
  came from legacy too. An older change is `stale`; the reverse sync's own write coming back is an `echo`; a change
  that loses to a newer write made on the new stack is a `conflict` (counted and listed by `cutover status`).
- a changed images sort key (`createdAt`) is a delete of the old item and a put of the new one in one transaction.
- delete: resolved to the item key (images: by `imageId`) and deleted unless the item changed on the new stack after
  the delete happened (then it is a conflict and the newer item stays); the delete leaves its tombstone (version =
  when it happened on the legacy side) in the same transaction (functions/shared/tombstones.py).
- a change for an item that is gone is written only when it is newer than the item's tombstone: an older write
  cannot bring back what a later delete removed, on either side.

Changes of different documents are applied concurrently (`--workers` threads per collection), each document's
own changes strictly in stream order: a batch is grouped by document key, every group runs in order on one thread,
and the batch is checkpointed only once every group is done. Memory is bounded by one batch (`--batch-size`
changes) per collection, whatever the thread count.

Transient failures - DynamoDB throttling and 5xx answers, dropped connections, a MongoDB failover or network
error - do not stop it: the collection waits (exponential backoff with full jitter, its growing lag printed and, as
far as the state table answers, heartbeated) and resumes from its last checkpoint, which is harmless since applying
a change twice is. Only a failure that lasts `--retry-for` seconds without any progress ends it, with the error and
the command to run again.

Exit codes: 0 stopped cleanly (or `--once` caught up); 1 the stream cannot go on (e.g. its position is gone from
the oplog: re-run the full load for that collection) or a failure outlasted `--retry-for`; 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from bson import json_util
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from functions.shared.tables import TableSpec
from functions.shared.tombstones import cancellation_codes, older_than_write, read_tombstone, tombstone_put
from functions.shared.versions import (ORIGIN_ATTRIBUTE, ORIGIN_AWS, ORIGIN_LEGACY, VERSION_ATTRIBUTE, datetime_millis,
                                       now_timestamp)
from migration.collections import mappers
from migration.convert import AttributeValue, Findings, Unconvertible
from migration.load import DeadLetterFile, dead_letter_record
from migration.mapping import Converted, Mapper, legacy_id_string
from migration.media import MediaCopier
from migration.segments import read_split
from migration.settings import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Settings,
    UsageError,
    add_connection_flags,
    check_mongo,
    check_targets,
    resolve,
)
from migration.state import StateStore
from migration.writer import CONNECTION_ERRORS, RETRYABLE_CODES, RetryPolicy, transient_aws_reason

STATE_JOB = "sync"
HEARTBEAT_SECONDS = 5.0
RECENT_CONFLICTS = 20
# Server codes meaning "this stream cannot resume from that position": history lost, fatal, bad token.
LOST_POSITION_CODES = {286, 280, 260, 9}
RETRY_FOR_SECONDS = 600.0  # a failure lasting this long without progress ends the sync (--retry-for)
TRANSACTION_RACES = {"TransactionConflict"}  # a cancelled transaction's reason when another write raced it
OLDER = "#v < :v OR (#v = :v AND #o = :legacy)"  # an item this change may replace
NEWER = f"attribute_not_exists(#v) OR {OLDER}"
REPLACES = f"attribute_exists(#v) AND ({OLDER})"  # an item that is there, older than this change
NAMES = {"#v": VERSION_ATTRIBUTE, "#o": ORIGIN_ATTRIBUTE}

EXAMPLES = """examples:
  python -m migration.sync --stack prod --mongo-uri "$MONGO_URI" --media-dir /var/www/uploads
  python -m migration.sync --stage local --mongo-uri mongodb://127.0.0.1:27017 --once
"""


class SyncError(Exception):
    """The stream cannot go on; the message says what to do."""


@dataclass
class SyncStats:
    """Counts shared by a collection's apply threads (updated under the lock)."""

    counts: Counter = field(default_factory=Counter)
    recent_conflicts: list[dict[str, Any]] = field(default_factory=list)
    lag_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, n: int = 1) -> None:
        with self.lock:
            self.counts[outcome] += n

    def conflict(self, collection: str, legacy_id: str, what: str) -> None:
        with self.lock:
            self.counts["conflicts"] += 1
            self.recent_conflicts = (self.recent_conflicts + [{
                "collection": collection, "id": legacy_id, "change": what, "winner": ORIGIN_AWS,
                "at": now_timestamp()}])[-RECENT_CONFLICTS:]


def transient_reason(error: BaseException) -> str | None:
    """A short name for a failure worth waiting out (throttling, 5xx, dropped connections, failovers), else None."""
    if isinstance(error, ClientError):
        aws = transient_aws_reason(error)
        if aws is None and set(cancellation_codes(error)) & (TRANSACTION_RACES | RETRYABLE_CODES):
            aws = _code(error)
        return f"DynamoDB {aws}" if aws is not None else None
    if isinstance(error, CONNECTION_ERRORS):
        return f"AWS {type(error).__name__}"
    if isinstance(error, ConnectionFailure):
        return f"MongoDB {type(error).__name__}"
    if isinstance(error, OperationFailure) and error.code not in LOST_POSITION_CODES and (
            error.has_error_label("ResumableChangeStreamError") or error.has_error_label("RetryableWriteError")):
        return f"MongoDB {error.code}"
    return None


def change_millis(change: dict[str, Any]) -> int:
    """When a change happened on the legacy side (the delete's version): its wall time, else its cluster time."""
    wall = change.get("wallTime")
    if isinstance(wall, dt.datetime):
        return datetime_millis(wall)
    return int(change["clusterTime"].time) * 1000


class TableApplier:
    """Writes converted documents and deletes into one table under the version rule."""

    def __init__(self, dynamodb: Any, table: str, spec: TableSpec, stats: SyncStats, collection: str,
                 state_table: str) -> None:
        self.dynamodb, self.table, self.spec, self.stats, self.collection = dynamodb, table, spec, stats, collection
        self.state_table = state_table

    def _existing_keys(self, item_id: str) -> list[dict[str, AttributeValue]]:
        """The keys of this legacy id's items: images may hold it under another sort key (`createdAt`) than the
        document now has, so they are looked up by `imageId`; users have only the one key."""
        hash_key = self.spec.hash_key.name
        if self.spec.range_key is None:
            return [{hash_key: {"S": item_id}}]
        range_key = self.spec.range_key.name
        keys: list[dict[str, AttributeValue]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "#h = :h", "ConsistentRead": True,
            "ExpressionAttributeNames": {"#h": hash_key, "#r": range_key},
            "ExpressionAttributeValues": {":h": {"S": item_id}}, "ProjectionExpression": "#h, #r"}
        while True:
            page = self.dynamodb.query(**kwargs)
            keys += [{hash_key: item[hash_key], range_key: item[range_key]} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return keys
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def upsert(self, converted: Converted, doc: dict[str, Any], inserted: bool = False,
               same_key: bool = False) -> str:
        """Write the changed document's item under the version rule; `inserted`: the change was an insert, so
        the item is most likely not there and the tombstone check comes first (one transaction, not three
        calls); `same_key`: an update that left the key's fields alone, so the item is most likely where the
        document says - one conditional put, and the general path below only when that put fails (no item
        there, or a newer one)."""
        item = converted.item
        item_id = item[self.spec.hash_key.name]["S"]
        values = {":v": item[VERSION_ATTRIBUTE], ":legacy": {"S": ORIGIN_LEGACY}}
        conditional = {"ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": values}
        new_key = {name: item[name] for name in self.spec.key_names}
        if same_key and self.spec.range_key is not None:
            try:
                self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression=REPLACES, **conditional)
                return "applied"
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
        moved = [key for key in self._existing_keys(item_id) if key != new_key] \
            if self.spec.range_key is not None else []
        if inserted and not moved:
            return self._bring_back(item, item_id, doc)
        try:
            if moved:  # an item is there (under its old sort key): the version rule against it suffices
                self.dynamodb.transact_write_items(TransactItems=[
                    *({"Delete": {"TableName": self.table, "Key": key, "ConditionExpression": OLDER, **conditional}}
                      for key in moved),
                    {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": NEWER, **conditional}}])
                return "moved"
            self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression=REPLACES, **conditional)
            return "applied"
        except ClientError as error:
            if _code(error) not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
        current = self.dynamodb.get_item(TableName=self.table, Key=moved[0] if moved else new_key,
                                         ConsistentRead=True).get("Item")
        if current is None and not moved:
            return self._bring_back(item, item_id, doc)
        if _echo(doc, item):
            return "echo"  # the reverse sync's write coming back: the item already holds it
        if (current or {}).get(ORIGIN_ATTRIBUTE, {}).get("S") == ORIGIN_AWS:
            self.stats.conflict(self.collection, item_id, "update")
            return "conflict"
        return "stale"

    def _bring_back(self, item: dict[str, AttributeValue], item_id: str, doc: dict[str, Any]) -> str:
        """The item is not there: write it only if no delete as new as this change happened (its tombstone)."""
        version = int(item[VERSION_ATTRIBUTE]["N"])
        try:
            self.dynamodb.transact_write_items(TransactItems=[
                older_than_write(self.state_table, self.collection, item_id, version),
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(#v)",
                         "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE}}}])
            return "applied"
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise
            reasons = cancellation_codes(error) + [None, None]
            tombstone_won, item_appeared = (code == "ConditionalCheckFailed" for code in reasons[:2])
        if item_appeared:
            return self.upsert(Converted(item=item, key=(), findings=Findings()), doc)  # it is there: the rule
        tombstone = read_tombstone(self.dynamodb, self.state_table, self.collection, item_id)
        if tombstone_won and tombstone is not None and tombstone.origin == ORIGIN_AWS and not _echo(doc, item):
            self.stats.conflict(self.collection, item_id, "update after a newer delete")
            return "conflict"
        return "stale"  # deleted later: the delete wins

    def delete(self, item_id: str, millis: int) -> str:
        """Delete every item of this legacy id whose version is not newer than the delete, and leave the delete's
        tombstone, in one transaction."""
        keys = self._existing_keys(item_id) if self.spec.range_key is not None else \
            [key for key in self._existing_keys(item_id)
             if self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")]
        deletes = [{"Delete": {"TableName": self.table, "Key": key,
                               "ConditionExpression": "attribute_not_exists(#v) OR #v <= :v",
                               "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
                               "ExpressionAttributeValues": {":v": {"N": str(millis)}}}} for key in keys]
        tombstone = [tombstone_put(self.state_table, self.collection, item_id, millis, ORIGIN_LEGACY)]
        for writes in (tombstone + deletes, deletes):  # the second without the tombstone: a newer one is there
            if not writes:
                return "absent"
            try:
                self.dynamodb.transact_write_items(TransactItems=writes)
                return "deleted" if deletes else "absent"
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                reasons = cancellation_codes(error)
                if any(code == "ConditionalCheckFailed" for code in reasons[len(writes) - len(deletes):]):
                    self.stats.conflict(self.collection, item_id, "delete")
                    return "conflict"  # an item changed on the new stack after the delete: it stays
                if not reasons or reasons[0] != "ConditionalCheckFailed" or writes is deletes:
                    raise
        return "absent"


def _echo(doc: dict[str, Any], item: dict[str, AttributeValue]) -> bool:
    """The document is as the reverse sync wrote it: it stamped the item's version into `sourceVersion`, which the
    legacy app never sets (its `origin` field alone says only who wrote it once, not who wrote it last)."""
    return doc.get(ORIGIN_ATTRIBUTE) == ORIGIN_AWS and str(doc.get(VERSION_ATTRIBUTE)) == item[VERSION_ATTRIBUTE]["N"]


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class CollectionSync:
    """Follows one collection's change stream into its table."""

    def __init__(self, settings: Settings, database: Any, name: str, mapper: Mapper, state: StateStore,
                 dynamodb: Any, copier: MediaCopier | None, dead_letters: DeadLetterFile, batch_size: int,
                 retry_for: float = RETRY_FOR_SECONDS, workers: int = 1) -> None:
        self.settings, self.name, self.mapper, self.state = settings, name, mapper, state
        self.collection = database[name]
        self.stats = SyncStats()
        self.applier = TableApplier(dynamodb, settings.tables[name], mapper.spec, self.stats, name,
                                    settings.tables["migration-state"])
        self.copier, self.dead_letters, self.batch_size = copier, dead_letters, batch_size
        self.retry = RetryPolicy(base_seconds=0.5, cap_seconds=30.0, budget_seconds=retry_for)
        self.last_heartbeat = 0.0
        self.last_change_ms: int | None = None  # when the newest applied change happened (the lag's reference)
        self.progress = 0  # batches applied: a retry budget restarts once the sync moves again
        self.workers = workers

    def start_position(self) -> dict[str, Any]:
        saved = self.state.load_document(f"{STATE_JOB}#{self.name}")
        if saved and saved.get("resumeToken"):
            return {"resume_after": saved["resumeToken"]}
        recorded = self.state.load("load", self.name) or read_split(self.state, self.name)  # whole, or in segments
        position = recorded.change_stream_token if recorded is not None else None
        if not position:
            raise SyncError(f"{self.name}: no full load is recorded, so there is no position to sync from; run "
                            f"`python -m migration.run --collections {self.name}` first")
        if "resumeAfter" in position:
            return {"resume_after": position["resumeAfter"]}
        return {"start_at_operation_time": position["startAtOperationTime"]}

    def run(self, stop: threading.Event, once: bool) -> None:
        """Follow the stream; wait out transient failures (resuming from the last checkpoint) within the budget."""
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"apply-{self.name}") as pool:
            self._run(stop, once, pool)

    def _run(self, stop: threading.Event, once: bool, pool: ThreadPoolExecutor) -> None:
        attempt, failing_since, progress_then = 0, 0.0, -1
        while True:
            try:
                self.follow(stop, once, pool)
                return
            except SyncError:
                raise
            except Exception as error:  # noqa: BLE001 - only transient ones are waited out, the rest re-raised
                reason = transient_reason(error)
                if reason is None:
                    raise
                if self.progress != progress_then:  # it moved since the last failure: a new budget
                    attempt, failing_since, progress_then = 0, time.monotonic(), self.progress
                attempt += 1
                delay = self.retry.delay(attempt)
                waited = time.monotonic() - failing_since
                if waited + delay > self.retry.budget_seconds:
                    raise SyncError(
                        f"{self.name}: gave up after {attempt} attempts in {waited:.0f} s without progress (last: "
                        f"{reason}: {str(error)[:200]}); the position is saved - fix the cause and run "
                        f"`python -m migration.sync` again with the same flags") from None
                self.stats.add("retries")
                self._report_wait(reason, attempt, delay)
                if stop.wait(delay):
                    return

    def _report_wait(self, reason: str, attempt: int, delay: float) -> None:
        """The lag keeps growing while the sync waits: say so, and heartbeat it if the state table answers."""
        if self.last_change_ms is not None:
            self.stats.lag_seconds = max(0.0, time.time() - self.last_change_ms / 1000)
        print(f"{self.name}: {reason}; retrying in {delay:.1f} s (attempt {attempt}), lag "
              f"{self.stats.lag_seconds:.1f} s", flush=True)
        try:
            saved = self.state.load_document(f"{STATE_JOB}#{self.name}") or {}
            self.state.save_document(f"{STATE_JOB}#{self.name}", {
                **saved, "lagSeconds": round(self.stats.lag_seconds, 3), "at": now_timestamp(),
                "waiting": f"{reason} (attempt {attempt})"})
        except (ClientError, *CONNECTION_ERRORS):
            pass  # the state table is what is failing; the printed line says it

    def follow(self, stop: threading.Event, once: bool, pool: ThreadPoolExecutor | None = None) -> None:
        position = self.start_position()
        try:
            with self.collection.watch(full_document="updateLookup", max_await_time_ms=250, **position) as stream:
                while not stop.is_set():
                    batch = []
                    while len(batch) < self.batch_size:
                        change = stream.try_next()
                        if change is None:
                            break
                        batch.append(change)
                    self.apply_batch(batch, pool)
                    if batch:
                        self.last_change_ms = change_millis(batch[-1])
                        self.stats.lag_seconds = max(0.0, time.time() - self.last_change_ms / 1000)
                        self.checkpoint(stream.resume_token)
                        self.progress += 1
                    elif once:
                        self.stats.lag_seconds = 0.0
                        self.checkpoint(stream.resume_token)
                        return
                    elif time.monotonic() - self.last_heartbeat >= HEARTBEAT_SECONDS:
                        self.stats.lag_seconds = 0.0  # nothing waiting: caught up
                        self.checkpoint(stream.resume_token)
        except OperationFailure as error:
            if error.code in LOST_POSITION_CODES:
                reason = (error.details or {}).get("errmsg", str(error))
                raise SyncError(
                    f"{self.name}: the change stream cannot resume from the recorded position ({reason}); the "
                    f"changes since then are no longer available. Re-run the full load for this collection "
                    f"(`python -m migration.run --collections {self.name} --restart`), then start the sync again"
                ) from None
            if transient_reason(error):
                raise
            raise SyncError(f"{self.name}: the change stream failed: {error}") from None

    def apply_batch(self, batch: list[dict[str, Any]], pool: ThreadPoolExecutor | None) -> None:
        """Apply a batch: each document's changes in stream order on one thread, different documents concurrently;
        returns once all are applied, or raises the first failure once the others finished (the batch is then
        replayed from the last checkpoint, which is harmless: applying a change twice is). Events without a
        document key (drop, invalidate, index changes) come last, in order: a drop ends the stream."""
        by_document: dict[str, list[dict[str, Any]]] = {}
        others: list[dict[str, Any]] = []
        for change in batch:
            if "documentKey" in change:  # as extended JSON: any _id groups, even one no item can have
                by_document.setdefault(json_util.dumps(change["documentKey"]), []).append(change)
            else:
                others.append(change)
        if pool is None or self.workers == 1 or len(by_document) < 2:
            for changes in by_document.values():
                self._apply_in_order(changes)
        else:
            futures = [pool.submit(self._apply_in_order, changes) for changes in by_document.values()]
            wait(futures)  # every group ends before the batch does: nothing runs on behind a retry or a checkpoint
            failures = [error for error in (future.exception() for future in futures) if error is not None]
            if failures:
                raise failures[0]
        for change in others:
            self.apply(change)

    def _apply_in_order(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            self.apply(change)

    def apply(self, change: dict[str, Any]) -> None:
        kind = change["operationType"]
        if kind == "invalidate" or kind in ("drop", "rename", "dropDatabase"):
            raise SyncError(f"{self.name}: the collection was dropped or renamed in MongoDB ({kind}); the stream "
                            f"ended. Re-run the full load for it (`python -m migration.run --collections "
                            f"{self.name} --restart`)")
        if kind == "delete":
            try:
                item_id = legacy_id_string(change["documentKey"])
            except Unconvertible:
                self.stats.add("absent")  # an _id no item can have (its document was dead-lettered): nothing to delete
                return
            self.stats.add(self.applier.delete(item_id, change_millis(change)))
            return
        if kind not in ("insert", "update", "replace"):
            return  # index and metadata events carry no document
        doc = change.get("fullDocument")
        if doc is None:
            self.stats.add("gone")  # deleted before it could be read; its delete event follows
            return
        try:
            converted = self.mapper.convert(doc)
        except Unconvertible as error:
            self.dead_letters.append([dead_letter_record(self.name, doc, error.rule, str(error))])
            self.stats.add("dead_lettered")
            return
        if self.copier is not None and converted.media:
            self.stats.add("media_uploaded", self.copier.copy_all(converted.media))
        self.stats.add(self.applier.upsert(converted, doc, inserted=kind == "insert",
                                           same_key=kind == "update" and not self._touches_key(change)))

    def _touches_key(self, change: dict[str, Any]) -> bool:
        """An update event that set or removed a field of the item's key (images: `createdAt`)."""
        description = change.get("updateDescription") or {}
        fields = [*(description.get("updatedFields") or {}), *(description.get("removedFields") or [])]
        return any(field.split(".")[0] in self.mapper.key_fields for field in fields)

    def checkpoint(self, token: Any) -> None:
        self.state.save_document(f"{STATE_JOB}#{self.name}", {
            "resumeToken": token, "lagSeconds": round(self.stats.lag_seconds, 3), "at": now_timestamp(),
            "counts": dict(self.stats.counts), "conflicts": self.stats.counts["conflicts"],
            "recentConflicts": self.stats.recent_conflicts})
        self.last_heartbeat = time.monotonic()

    def line(self) -> str:
        c = self.stats.counts
        return (f"{self.name}: applied {c['applied'] + c['moved']:,} (sort key moved {c['moved']:,}), deleted "
                f"{c['deleted']:,}, stale {c['stale']:,}, echoes {c['echo']:,}, conflicts {c['conflicts']:,}, "
                f"dead-lettered {c['dead_lettered']:,}, retries {c['retries']:,}; lag {self.stats.lag_seconds:.1f} s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migration.sync", description=__doc__.split("\n\n")[0].split(": ", 1)[1], epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    parser.add_argument("--once", action="store_true", help="apply what is waiting, then exit (catch up)")
    parser.add_argument("--batch-size", type=int, default=100, help="changes applied per checkpoint (default 100)")
    parser.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--dead-letter", type=Path, default=Path("migration-dead-letters.jsonl"),
                        help="JSON-lines file for changed documents that cannot become items")
    parser.add_argument("--retry-for", type=float, default=RETRY_FOR_SECONDS,
                        help="seconds a transient failure (throttling, 5xx, lost connection) is waited out without "
                             f"progress before the sync gives up (default {RETRY_FOR_SECONDS:.0f})")
    return parser


def sync(settings: Settings, once: bool, batch_size: int, dead_letter: Path, report_every: float,
         stop: threading.Event | None = None, retry_for: float = RETRY_FOR_SECONDS) -> list[CollectionSync]:
    """Follow every selected collection until `stop` is set (or, with `once`, until caught up)."""
    stop = stop or threading.Event()
    mongo = check_mongo(settings)
    dynamodb = settings.client("dynamodb")
    state = StateStore(dynamodb, settings.tables["migration-state"])
    copier = None if settings.media_dir is None else \
        MediaCopier(settings.media_client(), settings.media_bucket or "", settings.media_dir, settings.workers)
    all_mappers = mappers(settings.media_dir)
    dead_letters = DeadLetterFile(dead_letter)
    syncs = [CollectionSync(settings, mongo[settings.mongo_db], name, all_mappers[name], state, dynamodb,
                            copier if name == "images" else None, dead_letters, batch_size, retry_for,
                            settings.workers)
             for name in settings.collections]
    for one in syncs:
        try:
            one.start_position()  # fail before starting anything when a collection has nowhere to start from
        except Exception as error:  # noqa: BLE001 - a transient failure is waited out by the collection's run
            if transient_reason(error) is None:
                raise
    errors: list[BaseException] = []

    def follow(one: CollectionSync) -> None:
        try:
            one.run(stop, once)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which reports it
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=follow, args=(one,), name=f"sync-{one.name}", daemon=True) for one in syncs]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=report_every)
            if not once and any(thread.is_alive() for thread in threads):
                for one in syncs:
                    print(one.line(), flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        mongo.close()
        if copier is not None:
            copier.close()
    if errors:
        error = errors[0]
        if isinstance(error, (SyncError, PyMongoError, ClientError)):
            raise SyncError(str(error)) from error
        raise error
    return syncs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop = threading.Event()
    try:
        if args.batch_size < 1 or args.report_every <= 0 or args.retry_for < 0:
            raise UsageError("--batch-size must be at least 1, --report-every positive and --retry-for at least 0")
        settings = resolve(args)
        check_targets(settings, [*settings.collections, "migration-state"], need_bucket=bool(args.media_dir))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())  # finish the batch, checkpoint, exit 0
        syncs = sync(settings, args.once, args.batch_size, args.dead_letter, args.report_every, stop, args.retry_for)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SyncError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    for one in syncs:
        print(one.line())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
