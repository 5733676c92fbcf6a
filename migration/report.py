"""The JSON report of a load and of a verification (`--report`), written by `migration.run` and `migration.verify`
alike: per collection the load's counts and, when it ran, the verification's result.
"""

from __future__ import annotations

import json
from pathlib import Path

from migration.load import CollectionReport


def write_report(path: Path, mode: str, reports: dict[str, CollectionReport], verify: dict[str, dict] | None,
                 exit_code: int) -> None:
    document = {"mode": mode, "exit_code": exit_code,
                "collections": {name: report.to_json() for name, report in reports.items()}}
    for name, result in (verify or {}).items():
        document["collections"].setdefault(name, {})["verify"] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
