"""The report of a load and of a verification: the JSON file (`--report`), written by `migration.run`,
`migration.verify` and the parallel runner alike (per collection the load's counts and, when it ran, the
verification's result), and the summary table they print.

`python -m migration.report --segments N REPORT`: combine the reports the N segments of a split load wrote
(`REPORT` with an `.IofN` suffix each, as `migration.run --segments N --report REPORT` names them - on AWS Batch
every array child gets the same command) into REPORT, and print the summary. Exit codes: 0 every segment reported
and nothing failed or was dead-lettered; 1 a segment is missing, failed, or dead-lettered documents; 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from migration.load import CollectionReport, combine_reports, report_from_json
from migration.segments import MAX_SEGMENTS, segment_path


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


def combine_segment_reports(report: Path, count: int) -> tuple[dict[str, CollectionReport], list[int]]:
    """The segments' reports (`report` with `.IofN` suffixes) combined per collection, and the 1-based numbers of
    the segments with no report or with a failure."""
    parts: dict[str, list[CollectionReport]] = {}
    unfinished = []
    for index in range(count):
        path = segment_path(report, index, count)
        if not path.exists():
            unfinished.append(index + 1)
            continue
        for name, data in json.loads(path.read_text(encoding="utf-8"))["collections"].items():
            part = report_from_json(name, data)
            parts.setdefault(name, []).append(part)
            if part.error and index + 1 not in unfinished:
                unfinished.append(index + 1)
    return {name: combine_reports(segment_reports) for name, segment_reports in parts.items()}, unfinished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration.report", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="the --report path the segments were given")
    parser.add_argument("--segments", type=int, required=True, metavar="N", help="how many segments the load had")
    args = parser.parse_args(argv)
    if not 2 <= args.segments <= MAX_SEGMENTS:
        print(f"error: --segments must be from 2 to {MAX_SEGMENTS} (got {args.segments})", file=sys.stderr)
        return 2
    reports, unfinished = combine_segment_reports(args.report, args.segments)
    if not reports:
        print(f"error: no segment report found beside {args.report} ({segment_path(args.report, 0, args.segments)}"
              f" ...)", file=sys.stderr)
        return 1
    failed = bool(unfinished) or any(r.counts["dead_lettered"] for r in reports.values())
    exit_code = 1 if failed else 0
    print(summary_table(reports, None))
    if unfinished:
        print(f"segments {', '.join(map(str, unfinished))} have no report or failed: run them again (each resumes "
              f"from its checkpoint), then combine again")
    write_report(args.report, "dry-run" if any(r.dry_run for r in reports.values()) else "run", reports, None,
                 exit_code)
    print(f"\nreport: {args.report}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
