"""Timestamps and item versions: the one rule every writer (API, worker, migration, sync) follows.

Timestamps are `YYYY-MM-DDTHH:MM:SS.mmmZ` strings (UTC, milliseconds) so string order is time order. Every item of
the users and images tables carries `sourceVersion` (milliseconds of its last change) and `origin` (which side wrote
it), so sync in either direction is last-writer-wins and an echo of a side's own write is a no-op.
"""

from __future__ import annotations

import datetime as dt
import time

VERSION_ATTRIBUTE = "sourceVersion"
ORIGIN_ATTRIBUTE = "origin"
ORIGIN_LEGACY = "legacy"  # written by the migration or the forward sync (the change came from MongoDB)
ORIGIN_AWS = "aws"  # written by the new stack's functions


def format_timestamp(value: dt.datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC; a naive datetime is UTC (that is what BSON dates are)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def datetime_millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch, exactly (a naive datetime is UTC, as BSON dates are)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return (value - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)


def timestamp_millis(timestamp: str) -> int:
    """Milliseconds since the epoch of a `YYYY-MM-DDTHH:MM:SS.mmmZ` string (for item versions)."""
    # integer arithmetic: `int(parsed.timestamp() * 1000)` loses a millisecond to float rounding (1.001 s -> 1000)
    return datetime_millis(dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ"))


def now_millis() -> int:
    return time.time_ns() // 1_000_000


def millis_timestamp(millis: int) -> str:
    return format_timestamp(dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc))


def now_timestamp() -> str:
    return millis_timestamp(now_millis())


def stamp(millis: int | None = None) -> dict[str, object]:
    """The attributes a function sets on every write of a synced item: `updatedAt`, version and origin."""
    millis = now_millis() if millis is None else millis
    return {"updatedAt": millis_timestamp(millis), VERSION_ATTRIBUTE: millis, ORIGIN_ATTRIBUTE: ORIGIN_AWS}
