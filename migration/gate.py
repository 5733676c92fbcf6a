"""The cutover gate: may the share of users on the new stack go up now?

It passes when, for every synced collection, both sync directions are running and less than `max_lag` seconds
behind, and the last verification found no difference. The facts come from the migration-state table, where
`migration.sync` (`sync#<collection>`), the reverseSync function (`reverse#<collection>`) and `migration.verify`
(`verify#<collection>`) leave them. A heartbeat that stops counts as lag: a sync that died is not "caught up".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from migration.settings import COLLECTIONS
from migration.state import StateStore

DEFAULT_MAX_LAG_SECONDS = 60.0
DIRECTIONS = (("sync", "legacy -> aws"), ("reverse", "aws -> legacy"))
MISMATCHES = ("missing", "extra", "different", "media_mismatched")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def effective_lag(heartbeat: dict[str, Any], now: dt.datetime) -> float:
    """The lag the sync last reported plus the heartbeat's age (a stopped sync falls further behind)."""
    age = max(0.0, (now - parse_time(heartbeat["at"])).total_seconds())
    return float(heartbeat.get("lagSeconds", 0.0)) + age


@dataclass
class GateReport:
    max_lag: float
    lags: dict[str, dict[str, float | None]] = field(default_factory=dict)  # direction -> collection -> seconds
    verification: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    conflicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # direction#collection -> count, recent
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "failures": self.failures, "maxLagSeconds": self.max_lag, "lags": self.lags,
                "verification": self.verification, "conflicts": self.conflicts}


def evaluate(state: StateStore, max_lag: float = DEFAULT_MAX_LAG_SECONDS,
             collections: tuple[str, ...] = COLLECTIONS, now: dt.datetime | None = None) -> GateReport:
    now = now or dt.datetime.now(dt.timezone.utc)
    report = GateReport(max_lag=max_lag)
    for direction, label in DIRECTIONS:
        report.lags[label] = {}
        for collection in collections:
            heartbeat = state.load_document(f"{direction}#{collection}")
            if heartbeat is None:
                report.lags[label][collection] = None
                report.failures.append(f"{label} sync of {collection} has never run")
                continue
            lag = effective_lag(heartbeat, now)
            report.lags[label][collection] = round(lag, 1)
            if lag >= max_lag:
                report.failures.append(f"{label} sync of {collection} is {lag:.0f} s behind (limit {max_lag:.0f} s)")
            if heartbeat.get("conflicts"):
                report.conflicts[f"{label} {collection}"] = {"count": heartbeat["conflicts"],
                                                             "recent": heartbeat.get("recentConflicts", [])}
    for collection in collections:
        result = state.load_document(f"verify#{collection}")
        report.verification[collection] = result
        if result is None:
            report.failures.append(f"{collection} has never been verified (python -m migration.verify)")
            continue
        mismatches = sum(int(result.get(name, 0)) for name in MISMATCHES)
        if mismatches:
            report.failures.append(f"the last verification of {collection} ({result.get('at', '?')}) found "
                                   f"{mismatches} mismatches")
    return report
