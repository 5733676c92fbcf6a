"""What a target table takes before it throttles, and how long a full load needs at that rate.

DynamoDB's DescribeTable names the table's capacity mode, its provisioned write units or on-demand maximum, and its
warm throughput: the writes/s it takes at once (a new on-demand table: 4,000; beyond its warm value DynamoDB
scales, doubling the previous peak at most every 30 minutes, and throttles what comes faster meanwhile). Each
global secondary index has its own, and a cold index throttles the table's writes (back-pressure), so the rate a
load can count on is the lowest of them. The stack pre-warms the bulk-loaded tables per stage
(`mumble:warmWriteUnitsPerSecond`); `migration.run` prints this before writing, and in dry-run.

The estimate is a floor on the load's time from the table's side only (write units / that rate); the loader's own
pace (`--workers`, segments) is the other bound. Throttling is never a failure: writes back off and retry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from migration.convert import item_size
from migration.mapping import Mapper

NEW_ON_DEMAND_WRITES = 4_000  # a new on-demand table's (and index's) warm write throughput
WRITE_UNIT_BYTES = 1_024
SAMPLE_DOCUMENTS = 200  # documents converted to size the items
PREWARM_WORTH_SECONDS = 30 * 60  # a load longer than this at the default rate is worth pre-warming for


@dataclass(frozen=True)
class TableCapacity:
    """The writes/s a table takes at once, and what sets it."""

    table: str
    mode: str  # "on-demand", "provisioned", or "unknown" (not there yet, or not describable)
    writes_per_second: int
    limited_by: str

    def seconds_for(self, write_units: float) -> float:
        """The least time these write units take at the rate the table takes at once."""
        return write_units / self.writes_per_second

    def describe(self) -> str:
        return f"{self.table} ({self.mode}) takes {self.writes_per_second:,} writes/s at once ({self.limited_by})"


def table_capacity(dynamodb: Any, table: str) -> TableCapacity:
    """Read the table's mode, limits and warm throughput; a table that is not there (dry-run) or cannot be described
    is assumed to be a new on-demand one."""
    try:
        described = dynamodb.describe_table(TableName=table)["Table"]
    except (ClientError, BotoCoreError) as error:
        reason = "not created yet" if isinstance(error, ClientError) and \
            error.response.get("Error", {}).get("Code") == "ResourceNotFoundException" else "not describable"
        return TableCapacity(table, "unknown", NEW_ON_DEMAND_WRITES,
                             f"{reason}: a new on-demand table's warm throughput")
    on_demand = described.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    limits: list[tuple[int, str]] = []
    for owner, spec in [("table", described), *((f"index {index['IndexName']}", index)
                                                 for index in described.get("GlobalSecondaryIndexes", []))]:
        limits.append(_limit(owner, spec, on_demand))
    writes, what = min(limits, key=lambda limit: limit[0])  # the table's own on a tie
    return TableCapacity(table, "on-demand" if on_demand else "provisioned", writes, what)


def _limit(owner: str, spec: dict[str, Any], on_demand: bool) -> tuple[int, str]:
    """The lowest write rate one table or index takes at once, and what sets it."""
    candidates: list[tuple[int, str]] = []
    warm = (spec.get("WarmThroughput") or {}).get("WriteUnitsPerSecond")
    if on_demand:
        candidates.append((int(warm), f"{owner} warm throughput") if warm else
                          (NEW_ON_DEMAND_WRITES, f"{owner}: no warm throughput reported, a new table's assumed"))
        maximum = (spec.get("OnDemandThroughput") or {}).get("MaxWriteRequestUnits")
        if maximum and int(maximum) > 0:
            candidates.append((int(maximum), f"{owner} on-demand maximum"))
    else:
        units = (spec.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits")
        candidates.append((max(1, int(units or 1)), f"{owner} provisioned write capacity"))
    return min(candidates, key=lambda candidate: candidate[0])


def write_units_per_item(mapper: Mapper, sample: Iterable[dict[str, Any]]) -> float:
    """The mean write units per item (1 KB each, rounded up per item) over a sample of converted documents."""
    units = []
    for doc in sample:
        try:
            units.append(math.ceil(item_size(mapper.convert(doc).item) / WRITE_UNIT_BYTES))
        except Exception:  # noqa: BLE001 - dead-lettered documents write nothing
            continue
    return sum(units) / len(units) if units else 1.0


def load_estimate(documents: int, units_per_item: float, capacity: TableCapacity) -> str:
    """One line: the load's write units and the least time the table needs for them."""
    units = documents * units_per_item
    seconds = capacity.seconds_for(units)
    advice = "; to load faster, pre-warm it: mumble:warmWriteUnitsPerSecond in Pulumi.<stage>.yaml, then `pulumi " \
             "up`" if capacity.mode != "provisioned" and capacity.writes_per_second <= NEW_ON_DEMAND_WRITES and \
        seconds > PREWARM_WORTH_SECONDS else ""
    return (f"{documents:,} documents x {units_per_item:.2f} write units = {units:,.0f} units; "
            f"{capacity.describe()}: at least {duration(seconds)} at that rate{advice}")


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
