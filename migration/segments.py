"""Split a collection's `_id` space into N contiguous ranges, so N processes or machines load it side by side.

The split points are computed once from the data (`$bucketAuto` on `_id`: N buckets of about equal counts) and
stored in the migration-state table (`split#<collection>`) together with the change-stream position taken before
any segment starts, by a conditional write: the first segment to start (or `--parallel`'s parent) records them,
every other one reads them, so all agree however the data changes meanwhile. Each segment keeps its own checkpoint
(`load#<collection>@<i>of<n>`); the sync starts from the split's position.

Ranges are in MongoDB's sort order of `_id`, which orders types before values (numbers < strings < objects <
binary < ObjectId < ...), while a query's `$gt`/`$lt` only match values of the bound's own type. So every range
and every resume ("after the watermark") is a query that also names the types sorting between its bounds
(`id_range`); without that, a load resumed after a string `_id` would skip every ObjectId.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util

from migration.settings import UsageError
from migration.state import StateStore

SPLIT_JOB = "split"
MAX_SEGMENTS = 1024
# MongoDB's comparison order of BSON types, each class with its `$type` aliases.
TYPE_CLASSES: tuple[tuple[str, ...], ...] = (
    ("minKey",), ("null",), ("number",), ("string", "symbol"), ("object",), ("array",), ("binData",),
    ("objectId",), ("bool",), ("date",), ("timestamp",), ("regex",), ("maxKey",))


class SplitMismatch(UsageError):
    """The collection is already split another way; the message says what to run (exit code 2)."""


def type_class(value: Any) -> int:
    """The position of a value's BSON type in MongoDB's sort order (str covers Code; anything else, such as a
    DBRef, is stored as an embedded document)."""
    checks: tuple[tuple[Any, int], ...] = (
        (MinKey, 0), (type(None), 1), (bool, 8), ((int, float, Int64, Decimal128, Decimal), 2), (str, 3),
        (dict, 4), ((list, tuple), 5), ((bytes, Binary, uuid.UUID), 6), (ObjectId, 7), (dt.datetime, 9),
        (Timestamp, 10), ((Regex, re.Pattern), 11), (MaxKey, 12))
    for kinds, position in checks:
        if isinstance(value, kinds):
            return position
    return 4


def sort_key(value: Any) -> tuple[int, Any]:
    """A key ordering `_id`s as MongoDB sorts them (within a type class by value; numbers across their types)."""
    position = type_class(value)
    if position == 2:
        number = Decimal(str(value.to_decimal() if isinstance(value, Decimal128) else value))
        return position, Decimal("-Infinity") if number.is_nan() else number  # MongoDB sorts NaN first
    if position in (0, 1, 12):
        return position, 0
    if position == 6:
        return position, bytes(value.bytes if isinstance(value, uuid.UUID) else value)
    if position in (4, 5, 11):
        return position, json_util.dumps(value)
    return position, value


def _bound(operator: str, value: Any) -> dict[str, Any]:
    """`_id <op> value` in sort order: same-type values by `operator`, plus every type on that side of it."""
    position = type_class(value)
    later = operator in ("$gt", "$gte")
    others = [alias for c in (TYPE_CLASSES[position + 1:] if later else TYPE_CLASSES[:position]) for alias in c]
    same = {"_id": {operator: value}}
    return {"$or": [same, {"_id": {"$type": others}}]} if others else same


def id_range(low: Any = None, high: Any = None, after: Any = None) -> dict[str, Any]:
    """The query for `low <= _id < high` and `_id > after` (each None: unbounded), in MongoDB's sort order."""
    parts = ([_bound("$gte", low)] if low is not None else []) + \
            ([_bound("$lt", high)] if high is not None else []) + \
            ([_bound("$gt", after)] if after is not None else [])
    return {} if not parts else parts[0] if len(parts) == 1 else {"$and": parts}


@dataclass(frozen=True)
class Segment:
    """The `index`-th (0-based) of `count` contiguous `_id` ranges of a collection: `low <= _id < high` (None:
    unbounded); `empty` when the collection has fewer distinct ids than segments and this one got none."""

    collection: str
    index: int = 0
    count: int = 1
    low: Any = None
    high: Any = None
    empty: bool = False

    @property
    def name(self) -> str:
        """The segment's checkpoint name (`images@2of4`); a whole collection is its own name."""
        return self.collection if self.count == 1 else f"{self.collection}@{self.index + 1}of{self.count}"

    def contains(self, legacy_id: Any) -> bool:
        key = sort_key(legacy_id)
        return not self.empty and (self.low is None or key >= sort_key(self.low)) and \
            (self.high is None or key < sort_key(self.high))

    def query(self, after: Any = None) -> dict[str, Any]:
        return {"_id": {"$in": []}} if self.empty else id_range(self.low, self.high, after)


@dataclass(frozen=True)
class Split:
    """A collection's split points and the change-stream position taken before any segment started."""

    collection: str
    count: int
    bounds: tuple[Any, ...]  # count - 1 ascending `_id`s (fewer when the collection has fewer distinct ids)
    change_stream_token: Any
    created_at: str

    def segment(self, index: int) -> Segment:
        if index > len(self.bounds):
            return Segment(self.collection, index, self.count, empty=True)
        edges = (None, *self.bounds, None)
        return Segment(self.collection, index, self.count, edges[index], edges[index + 1])

    def to_document(self) -> dict[str, Any]:
        options = json_util.CANONICAL_JSON_OPTIONS
        return {"collection": self.collection, "segments": self.count,
                "bounds": [json_util.dumps(bound, json_options=options) for bound in self.bounds],
                "changeStreamToken": json_util.dumps(self.change_stream_token, json_options=options),
                "createdAt": self.created_at}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "Split":
        return cls(document["collection"], int(document["segments"]),
                   tuple(json_util.loads(bound) for bound in document["bounds"]),
                   json_util.loads(document["changeStreamToken"]), document["createdAt"])


def split_points(collection: Any, count: int) -> tuple[Any, ...]:
    """`count - 1` boundaries splitting the collection into ranges of about equal counts (`$bucketAuto`)."""
    if count == 1:
        return ()
    buckets = list(collection.aggregate([{"$bucketAuto": {"groupBy": "$_id", "buckets": count}}]))
    return tuple(bucket["_id"]["min"] for bucket in buckets[1:])


def read_split(state: StateStore, collection: str) -> Split | None:
    document = state.load_document(f"{SPLIT_JOB}#{collection}")
    return Split.from_document(document) if document else None


def record_split(state: StateStore, collection: Any, name: str, count: int,
                 change_stream_position: Callable[[], Any]) -> Split:
    """The collection's split into `count` segments: the recorded one, or a new one recorded now (first writer
    wins, by a conditional write; a loser reads the winner's; the winner forgets an earlier whole-collection
    checkpoint, which the split replaces). Raises SplitMismatch when the collection is split another way."""
    existing = read_split(state, name)
    if existing is None:
        split = Split(name, count, split_points(collection, count), change_stream_position(),
                      dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        try:
            state.save_document(f"{SPLIT_JOB}#{name}", split.to_document(), if_version=None)
            state.delete("load", name)
            return split
        except state.client.exceptions.ConditionalCheckFailedException:
            existing = read_split(state, name)
            if existing is None:
                raise SplitMismatch(f"the {name} split was recorded and removed at once; run again") from None
    if existing.count != count:
        raise SplitMismatch(
            f"the {name} load is split into {existing.count} segments (recorded {existing.created_at}); run its "
            f"segments with --segments {existing.count}, or split it anew with `python -m migration.run "
            f"--collections {name} --parallel {count} --restart`")
    return existing


def forget_split(state: StateStore, collection: str) -> None:
    state.delete(SPLIT_JOB, collection)


def segment_path(path: Path, index: int, count: int) -> Path:
    """A per-segment file next to `path` (dead letters, reports): `name.2of4.jsonl`."""
    return path if count == 1 else path.with_name(f"{path.stem}.{index + 1}of{count}{path.suffix}")


def add_segment_flags(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """`--segments N --segment I`, shared by `migration.run` and `migration.verify`."""
    group = parser.add_argument_group("segments: one load split across processes or machines (migration/segments.py)")
    group.add_argument("--segments", type=int, default=1, metavar="N",
                       help=f"split each collection into N contiguous _id ranges of about equal counts, "
                            f"1-{MAX_SEGMENTS} (default: 1); the split points and the change-stream position are "
                            f"recorded by the first segment to start, and every segment keeps its own checkpoint")
    group.add_argument("--segment", type=int, metavar="I",
                       help="which segment this process takes, 1-N [AWS_BATCH_JOB_ARRAY_INDEX + 1]; its dead "
                            "letters go to the --dead-letter file named with an .IofN suffix")
    return group


def segment_of(args: argparse.Namespace) -> int:
    """The 0-based segment this process loads: --segment, else an AWS Batch array child's index."""
    if not 1 <= args.segments <= MAX_SEGMENTS:
        raise UsageError(f"--segments must be from 1 to {MAX_SEGMENTS} (got {args.segments})")
    if args.segments == 1:
        return 0
    if args.segment is not None:
        index = args.segment - 1
    elif os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "").isdigit():
        index = int(os.environ["AWS_BATCH_JOB_ARRAY_INDEX"])
    else:
        raise UsageError(f"--segments {args.segments} needs --segment I (1-{args.segments}), "
                         f"AWS_BATCH_JOB_ARRAY_INDEX, or --parallel {args.segments} to run them all here")
    if not 0 <= index < args.segments:
        raise UsageError(f"segment {index + 1} is not one of 1-{args.segments}")
    return index
