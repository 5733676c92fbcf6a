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
  the delete happened (then it is a conflict and the newer item stays).

Exit codes: 0 stopped cleanly (or `--once` caught up); 1 the stream cannot go on (e.g. its position is gone from
the oplog: re-run the full load for that collection); 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pymongo.errors import OperationFailure, PyMongoError

from functions.shared.tables import TableSpec
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_AWS, ORIGIN_LEGACY, VERSION_ATTRIBUTE, now_timestamp
from migration.collections import mappers
from migration.convert import AttributeValue, Unconvertible
from migration.load import DeadLetterFile, dead_letter_record
from migration.mapping import Converted, Mapper, legacy_id_string
from migration.media import MediaCopier
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

STATE_JOB = "sync"
HEARTBEAT_SECONDS = 5.0
RECENT_CONFLICTS = 20
# Server codes meaning "this stream cannot resume from that position": history lost, fatal, bad token.
LOST_POSITION_CODES = {286, 280, 260, 9}
OLDER = "#v < :v OR (#v = :v AND #o = :legacy)"  # an item this change may replace
NEWER = f"attribute_not_exists(#v) OR {OLDER}"
NAMES = {"#v": VERSION_ATTRIBUTE, "#o": ORIGIN_ATTRIBUTE}

EXAMPLES = """examples:
  python -m migration.sync --stack prod --mongo-uri "$MONGO_URI" --media-dir /var/www/uploads
  python -m migration.sync --stage local --mongo-uri mongodb://127.0.0.1:27017 --once
"""


class SyncError(Exception):
    """The stream cannot go on; the message says what to do."""


@dataclass
class SyncStats:
    counts: Counter = field(default_factory=Counter)
    recent_conflicts: list[dict[str, Any]] = field(default_factory=list)
    lag_seconds: float = 0.0

    def conflict(self, collection: str, legacy_id: str, what: str) -> None:
        self.counts["conflicts"] += 1
        self.recent_conflicts = (self.recent_conflicts + [{
            "collection": collection, "id": legacy_id, "change": what, "winner": ORIGIN_AWS,
            "at": now_timestamp()}])[-RECENT_CONFLICTS:]


def change_millis(change: dict[str, Any]) -> int:
    """When a change happened on the legacy side (the delete's version): its wall time, else its cluster time."""
    wall = change.get("wallTime")
    if isinstance(wall, dt.datetime):
        return int(wall.replace(tzinfo=wall.tzinfo or dt.timezone.utc).timestamp() * 1000)
    return int(change["clusterTime"].time) * 1000


class TableApplier:
    """Writes converted documents and deletes into one table under the version rule."""

    def __init__(self, dynamodb: Any, table: str, spec: TableSpec, stats: SyncStats, collection: str) -> None:
        self.dynamodb, self.table, self.spec, self.stats, self.collection = dynamodb, table, spec, stats, collection

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

    def upsert(self, converted: Converted, doc: dict[str, Any]) -> str:
        item = converted.item
        values = {":v": item[VERSION_ATTRIBUTE], ":legacy": {"S": ORIGIN_LEGACY}}
        new_key = {name: item[name] for name in self.spec.key_names}
        moved = [key for key in self._existing_keys(item[self.spec.hash_key.name]["S"]) if key != new_key] \
            if self.spec.range_key is not None else []
        try:
            if moved:
                self.dynamodb.transact_write_items(TransactItems=[
                    *({"Delete": {"TableName": self.table, "Key": key, "ConditionExpression": OLDER,
                                  "ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": values}}
                      for key in moved),
                    {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": NEWER,
                             "ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": values}}])
                return "moved"
            self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression=NEWER,
                                   ExpressionAttributeNames=NAMES, ExpressionAttributeValues=values)
            return "applied"
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ConditionalCheckFailedException",
                                                       "TransactionCanceledException"):
                raise
        if doc.get(ORIGIN_ATTRIBUTE) == ORIGIN_AWS:
            return "echo"  # the reverse sync's write coming back: the item already holds it
        current = self.dynamodb.get_item(TableName=self.table, Key=moved[0] if moved else new_key,
                                         ConsistentRead=True).get("Item", {})
        if current.get(ORIGIN_ATTRIBUTE, {}).get("S") == ORIGIN_AWS:
            self.stats.conflict(self.collection, item[self.spec.hash_key.name]["S"], "update")
            return "conflict"
        return "stale"

    def delete(self, item_id: str, millis: int) -> str:
        outcome = "absent"
        for key in self._existing_keys(item_id):
            try:
                deleted = self.dynamodb.delete_item(
                    TableName=self.table, Key=key, ConditionExpression="attribute_not_exists(#v) OR #v <= :v",
                    ExpressionAttributeNames={"#v": VERSION_ATTRIBUTE},
                    ExpressionAttributeValues={":v": {"N": str(millis)}}, ReturnValues="ALL_OLD")
                outcome = "deleted" if deleted.get("Attributes") else outcome
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                self.stats.conflict(self.collection, item_id, "delete")
                outcome = "conflict"
        return outcome


class CollectionSync:
    """Follows one collection's change stream into its table."""

    def __init__(self, settings: Settings, database: Any, name: str, mapper: Mapper, state: StateStore,
                 dynamodb: Any, copier: MediaCopier | None, dead_letters: DeadLetterFile, batch_size: int) -> None:
        self.settings, self.name, self.mapper, self.state = settings, name, mapper, state
        self.collection = database[name]
        self.stats = SyncStats()
        self.applier = TableApplier(dynamodb, settings.tables[name], mapper.spec, self.stats, name)
        self.copier, self.dead_letters, self.batch_size = copier, dead_letters, batch_size
        self.last_heartbeat = 0.0

    def start_position(self) -> dict[str, Any]:
        saved = self.state.load_document(f"{STATE_JOB}#{self.name}")
        if saved and saved.get("resumeToken"):
            return {"resume_after": saved["resumeToken"]}
        checkpoint = self.state.load("load", self.name)
        if checkpoint is None or not checkpoint.change_stream_token:
            raise SyncError(f"{self.name}: no full load is recorded, so there is no position to sync from; run "
                            f"`python -m migration.run --collections {self.name}` first")
        position = checkpoint.change_stream_token
        if "resumeAfter" in position:
            return {"resume_after": position["resumeAfter"]}
        return {"start_at_operation_time": position["startAtOperationTime"]}

    def run(self, stop: threading.Event, once: bool) -> None:
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
                    for change in batch:
                        self.apply(change)
                    if batch:
                        self.stats.lag_seconds = max(0.0, time.time() - change_millis(batch[-1]) / 1000)
                        self.checkpoint(stream.resume_token)
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
            raise SyncError(f"{self.name}: the change stream failed: {error}") from None

    def apply(self, change: dict[str, Any]) -> None:
        kind = change["operationType"]
        if kind == "invalidate" or kind in ("drop", "rename", "dropDatabase"):
            raise SyncError(f"{self.name}: the collection was dropped or renamed in MongoDB ({kind}); the stream "
                            f"ended. Re-run the full load for it (`python -m migration.run --collections "
                            f"{self.name} --restart`)")
        if kind == "delete":
            self.stats.counts[self.applier.delete(legacy_id_string(change["documentKey"]), change_millis(change))] += 1
            return
        if kind not in ("insert", "update", "replace"):
            return  # index and metadata events carry no document
        doc = change.get("fullDocument")
        if doc is None:
            self.stats.counts["gone"] += 1  # deleted before it could be read; its delete event follows
            return
        try:
            converted = self.mapper.convert(doc)
        except Unconvertible as error:
            self.dead_letters.append([dead_letter_record(self.name, doc, error.rule, error.message)])
            self.stats.counts["dead_lettered"] += 1
            return
        if self.copier is not None and converted.media:
            self.stats.counts["media_uploaded"] += self.copier.copy_all(converted.media)
        self.stats.counts[self.applier.upsert(converted, doc)] += 1

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
                f"dead-lettered {c['dead_lettered']:,}; lag {self.stats.lag_seconds:.1f} s")


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
    return parser


def sync(settings: Settings, once: bool, batch_size: int, dead_letter: Path, report_every: float,
         stop: threading.Event | None = None) -> list[CollectionSync]:
    """Follow every selected collection until `stop` is set (or, with `once`, until caught up)."""
    stop = stop or threading.Event()
    mongo = check_mongo(settings)
    dynamodb = settings.client("dynamodb")
    state = StateStore(dynamodb, settings.tables["migration-state"])
    copier = MediaCopier(settings.client("s3"), settings.media_bucket or "", settings.media_dir) \
        if settings.media_dir is not None else None
    all_mappers = mappers(settings.media_dir)
    syncs = [CollectionSync(settings, mongo[settings.mongo_db], name, all_mappers[name], state, dynamodb,
                            copier if name == "images" else None, DeadLetterFile(dead_letter), batch_size)
             for name in settings.collections]
    for one in syncs:
        one.start_position()  # fail before starting anything when a collection has nowhere to start from
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
        if args.batch_size < 1 or args.report_every <= 0:
            raise UsageError("--batch-size must be at least 1 and --report-every positive")
        settings = resolve(args)
        check_targets(settings, [*settings.collections, "migration-state"], need_bucket=bool(args.media_dir))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())  # finish the batch, checkpoint, exit 0
        syncs = sync(settings, args.once, args.batch_size, args.dead_letter, args.report_every, stop)
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
