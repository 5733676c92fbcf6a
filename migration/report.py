"""The report of a load and of a verification: the JSON file (`--report`), written by `migration.run`,
`migration.verify` and the parallel runner alike (per collection the load's counts and, when it ran, the
verification's result), and the summary table they print.
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


def summary_table(reports: dict[str, CollectionReport], verify: dict[str, dict] | None) -> str:
    dry_run = next(iter(reports.values())).dry_run if reports else False
    written = "would write" if dry_run else "written"
    header = f"{'collection':<12}{'read':>10}{written:>13}{'skipped':>9}{'dead-letter':>13}{'media':>8}" \
             f"{'missing':>9}{'seconds':>9}"
    lines = [header, "-" * len(header)]
    for name, report in reports.items():
        c = report.counts
        lines.append(f"{name:<12}{c['read']:>10,}{c['written']:>13,}{c['skipped']:>9,}{c['dead_lettered']:>13,}"
                     f"{c['media_copied']:>8,}{c['media_missing']:>9,}{report.seconds:>9.1f}")
    for name, report in reports.items():
        if report.warnings or report.dead_letter_rules:
            lines.append(f"\n{name}: findings by rule (sample ids)")
            for rule, count in sorted(report.dead_letter_rules.items()):
                ids = ", ".join(report.samples.get(f"dead_letter:{rule}", []))
                lines.append(f"  dead-letter {rule:<26}{count:>8,}  {ids}")
            for rule, count in sorted(report.warnings.items()):
                paths = ", ".join(report.warning_paths.get(rule, {}))[:60]
                examples = ", ".join(report.samples.get(rule, [])[:2])
                where = (f"  at {paths}" if paths else "") + (f"  e.g. {examples}" if examples else "")
                lines.append(f"  warning     {rule:<26}{count:>8,}{where}")
        if report.resumed_after or not report.dry_run:
            run = report.this_run
            lines.append(f"{name}: this run read {run['read']:,}, wrote {run['written']:,} items, uploaded "
                         f"{run['media_uploaded']:,} files" + (f" (resumed after _id {report.resumed_after})"
                                                               if report.resumed_after else ""))
        if report.error:
            lines.append(f"\n{name}: FAILED: {report.error}")
    if verify:
        lines.append("")
        for name, result in verify.items():
            lines.append(f"verify {name}: matched {result['matched']:,}, missing {result['missing']:,}, "
                         f"extra {result['extra']:,}, different {result['different']:,}, "
                         f"media mismatched {result.get('media_mismatched', 0):,}")
    return "\n".join(lines)
