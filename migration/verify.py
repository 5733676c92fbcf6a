"""`python -m migration.verify`: prove the tables hold exactly what the legacy database holds.

- Forward: every legacy document is converted again (same mapper as the load) and compared with its item by an
  order-independent digest, 100 keys per `BatchGetItem`, several requests in flight. Documents the load
  dead-letters are expected to be absent and are counted apart.
- Backward: every item's key is read by a parallel `Scan` (one segment per worker) and looked up in MongoDB with
  batched `$in` queries; an item with no legacy document is `extra`.
- Media: each object an item points at must carry, in S3, the SHA-256 the item records (a HEAD, no download).
- `--sample N` checks N random documents forward only.

Exit codes as for `migration.run`: 0 all matched, 1 differences, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Iterator

from bson import ObjectId

from functions.shared.aws import from_item
from functions.shared.legacy_documents import legacy_document
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_AWS
from migration.collections import mappers
from migration.convert import item_digest
from migration.mapping import Converted, legacy_id_of
from migration.media import stored_checksum
from migration.report import write_report
from migration.segments import Segment, add_segment_flags, read_split, segment_of
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

GET_BATCH = 100  # BatchGetItem's limit
IN_BATCH = 1000
SAMPLE_LIMIT = 20


class Result:
    """Counts and bounded id lists, shared by the verifying threads."""

    def __init__(self) -> None:
        self.counts = {"matched": 0, "missing": 0, "extra": 0, "different": 0, "dead_lettered": 0,
                       "media_checked": 0, "media_mismatched": 0}
        self.ids: dict[str, list[str]] = {"missing": [], "extra": [], "different": [], "media_mismatched": []}
        self.lock = threading.Lock()

    def add(self, outcome: str, legacy_id: Any = None) -> None:
        with self.lock:
            self.counts[outcome] += 1
            if outcome in self.ids and len(self.ids[outcome]) < SAMPLE_LIMIT:
                self.ids[outcome].append(str(legacy_id))

    def to_json(self, seconds: float) -> dict[str, Any]:
        return {**self.counts, "sample_ids": self.ids, "seconds": round(seconds, 3)}


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _batch_get(dynamodb: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request = {table: {"Keys": keys, "ConsistentRead": True}}
    delay = 0.05
    while request:
        response = dynamodb.batch_get_item(RequestItems=request)
        found.extend(response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if request:
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 5)
    return found


def _converted(mapper: Any, docs: Iterable[dict[str, Any]],
               result: Result) -> Iterator[tuple[dict[str, Any], Converted]]:
    for doc in docs:
        try:
            yield doc, mapper.convert(doc)
        except Exception:  # Unconvertible, or a mapper bug: the load dead-letters these too
            result.add("dead_lettered", doc.get("_id"))


def matches(collection: str, doc: dict[str, Any], converted: Converted, item: dict[str, Any]) -> bool:
    """An item from the legacy side equals the document converted again; an item the new stack wrote last
    (`origin` aws, during a cutover) is in the document as the reverse sync writes it."""
    if item.get(ORIGIN_ATTRIBUTE, {}).get("S") == ORIGIN_AWS:
        expected = legacy_document(collection, from_item(item))
        return all(doc.get(name) == value for name, value in expected.items())
    return item_digest(item) == item_digest(converted.item)


def verify_forward(settings: Settings, mapper: Any, docs: Iterable[dict[str, Any]], result: Result) -> None:
    dynamodb, s3 = settings.client("dynamodb"), settings.client("s3")
    table, spec = settings.tables[mapper.collection], mapper.spec

    def check(chunk: list[tuple[dict[str, Any], Converted]]) -> None:
        keys = [{name: c.item[name] for name in spec.key_names} for _, c in chunk]
        stored = {tuple(item[name]["S"] for name in spec.key_names): item
                  for item in _batch_get(dynamodb, table, keys)}
        for doc, converted in chunk:
            legacy_id = legacy_id_of(spec, converted.item)
            item = stored.get(converted.key)
            if item is None:
                result.add("missing", legacy_id)
            elif not matches(mapper.collection, doc, converted, item):
                result.add("different", legacy_id)
            else:
                result.add("matched")
            for media in converted.media:
                result.add("media_checked")
                if settings.media_bucket and stored_checksum(s3, settings.media_bucket, media.key) != media.sha256:
                    result.add("media_mismatched", media.key)

    with ThreadPoolExecutor(settings.workers) as pool:
        pending = []
        for chunk in _chunks(_converted(mapper, docs, result), GET_BATCH):
            pending.append(pool.submit(check, chunk))
            if len(pending) >= settings.workers * 2:  # bounded: memory stays flat
                pending.pop(0).result()
        for future in pending:
            future.result()


def verify_backward(settings: Settings, mapper: Any, collection: Any, result: Result, part: Segment) -> None:
    """Scan segments `part.index * workers` to `(part.index + 1) * workers - 1` of `part.count * workers`: N
    verifiers of a split load together scan every item exactly once."""
    dynamodb = settings.client("dynamodb")
    table, spec = settings.tables[mapper.collection], mapper.spec
    hash_key = spec.hash_key.name

    def segment(number: int) -> None:
        ids: list[Any] = []
        kwargs: dict[str, Any] = {"TableName": table, "Segment": number, "TotalSegments": settings.workers * part.count,
                                  "ProjectionExpression": "#k", "ExpressionAttributeNames": {"#k": hash_key}}
        while True:
            page = dynamodb.scan(**kwargs)
            ids.extend(legacy_id_of(spec, item) for item in page.get("Items", []))
            while len(ids) >= IN_BATCH:
                _check_exist(collection, ids[:IN_BATCH], result)
                ids = ids[IN_BATCH:]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if ids:
            _check_exist(collection, ids, result)

    with ThreadPoolExecutor(settings.workers) as pool:
        list(pool.map(segment, range(part.index * settings.workers, (part.index + 1) * settings.workers)))


def _check_exist(collection: Any, ids: list[Any], result: Result) -> None:
    candidates = ids + [str(i) for i in ids if isinstance(i, ObjectId)]  # an id may have been a string in MongoDB
    present = {str(doc["_id"]) for doc in collection.find({"_id": {"$in": candidates}}, {"_id": 1})}
    for legacy_id in ids:
        if str(legacy_id) not in present:
            result.add("extra", legacy_id)


def verify_all(settings: Settings, sample: int | None = None, segments: int = 1,
               segment: int = 0) -> dict[str, dict[str, Any]]:
    """Verify every selected collection, or the `segment`-th (0-based) of the `segments` its load was split into
    (forward: that `_id` range; backward: that share of the table's scan segments); returns `{collection:
    {matched, missing, extra, different, ...}}`."""
    mongo = check_mongo(settings)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in settings.collections:
            started = time.monotonic()
            mapper = mappers(settings.media_dir)[name]
            collection = mongo[settings.mongo_db][name]
            result = Result()
            if sample:
                docs: Iterable[dict[str, Any]] = collection.aggregate([{"$sample": {"size": sample}}])
                verify_forward(settings, mapper, docs, result)
            else:
                part = _part(settings, name, segments, segment)
                backward = threading.Thread(target=verify_backward, args=(settings, mapper, collection, result,
                                                                          part))
                backward.start()
                verify_forward(settings, mapper, collection.find(part.query(), batch_size=1000), result)
                backward.join()
            results[name] = result.to_json(time.monotonic() - started)
            results[name]["mode"] = f"sample of {sample}" if sample else \
                "full" if segments == 1 else f"segment {segment + 1} of {segments}"
    finally:
        mongo.close()
    _remember(settings, results)
    return results


def _part(settings: Settings, name: str, segments: int, index: int) -> Segment:
    """The segment to verify: the whole collection, or the `index`-th of its recorded split."""
    if segments == 1:
        return Segment(name)
    split = read_split(StateStore(settings.client("dynamodb"), settings.tables["migration-state"]), name)
    if split is None or split.count != segments:
        raise UsageError(f"{name}: no split into {segments} segments is recorded "
                         f"({'none' if split is None else f'it is split into {split.count}'}); verify with the "
                         f"--segments its load used, or without --segments")
    return split.segment(index)


def has_differences(results: dict[str, dict[str, Any]]) -> bool:
    """True when any collection has a missing, extra or different item, or a media object that does not match."""
    return any(r["missing"] or r["extra"] or r["different"] or r["media_mismatched"] for r in results.values())


def _remember(settings: Settings, results: dict[str, dict[str, Any]]) -> None:
    """Keep the last result in the state table, where the cutover gate reads it (best effort)."""
    table = settings.tables.get("migration-state")
    if not table:
        return
    try:
        store = StateStore(settings.client("dynamodb"), table)
        for name, result in results.items():
            store.save_document(f"verify#{name}", {**result, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    except Exception as error:  # the verification result itself is already printed and reported
        print(f"warning: could not record the verification in {table}: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migration.verify", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog="example: python -m migration.verify --stage prod --mongo-uri \"$MONGO_URI\" --media-dir "
               "/var/www/uploads --report verify.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    parser.add_argument("--sample", type=int, help="check N random documents instead of everything")
    add_segment_flags(parser)
    args = parser.parse_args(argv)
    try:
        if args.sample is not None and (args.sample < 1 or args.segments > 1):
            raise UsageError(f"--sample must be at least 1, and without --segments (got {args.sample})")
        settings = resolve(args)
        segment = segment_of(args)
        check_targets(settings, list(settings.collections), need_bucket=bool(args.media_dir))
        results = verify_all(settings, args.sample, args.segments, segment)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    exit_code = EXIT_FAILED if has_differences(results) else EXIT_OK
    for name, result in results.items():
        print(f"verify {name} ({result['mode']}): matched {result['matched']:,}, missing {result['missing']:,}, "
              f"extra {result['extra']:,}, different {result['different']:,}, dead-lettered "
              f"{result['dead_lettered']:,}, media mismatched {result['media_mismatched']:,}")
        for outcome, ids in result["sample_ids"].items():
            if ids:
                print(f"  {outcome}: {', '.join(ids[:10])}")
    if args.report:
        write_report(args.report, "verify", {}, results, exit_code)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
