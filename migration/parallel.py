"""`python -m migration.run --parallel N`: the N segments of a load as N processes on this machine, then one
combined report and one verification.

The parent records each collection's split first (so the change-stream position is taken once, before any segment
starts; with `--restart` it forgets the old split and the segments' checkpoints before), then starts
`migration.run --segments N --segment I --no-verify` for I = 1..N with the same flags, each with its own report and
dead-letter file (`<name>.IofN.<ext>`) and its output in `<report-or-dead-letter dir>/migration.IofN.log`. A segment
that fails leaves its checkpoint: run the same command again (without --restart) and only the unfinished work is
done. Memory: N times one load's (each segment has its own reader, writer window and media pool).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from migration.load import change_stream_position
from migration.report import combine_segment_reports, summary_table, write_report
from migration.segments import Segment, forget_split, record_split, segment_path
from migration.settings import EXIT_FAILED, EXIT_OK, Settings, check_mongo
from migration.state import StateStore

OWN_FLAGS = {"--parallel": 1, "--report": 1, "--dead-letter": 1, "--restart": 0, "--segments": 1, "--segment": 1,
             "--yes": 0, "--no-verify": 0}  # flags the parent sets for each child itself (with their value counts)


def child_flags(argv: list[str]) -> list[str]:
    """The command's own flags minus those the parent sets per segment."""
    kept, skip = [], 0
    for token in argv:
        if skip:
            skip -= 1
            continue
        name = token.split("=", 1)[0]
        if name in OWN_FLAGS:
            skip = OWN_FLAGS[name] if "=" not in token else 0
            continue
        kept.append(token)
    return kept


def prepare_splits(settings: Settings, count: int, restart: bool) -> None:
    """Record every collection's split before any segment starts (forgetting the old one first on --restart)."""
    mongo = check_mongo(settings)
    state = StateStore(settings.client("dynamodb"), settings.tables["migration-state"])
    try:
        for name in settings.collections:
            collection = mongo[settings.mongo_db][name]
            if restart:
                forget_split(state, name)
                for index in range(count):
                    state.delete("load", Segment(name, index, count).name)
            record_split(state, collection, name, count, lambda: change_stream_position(collection))
    finally:
        mongo.close()


def run_parallel(settings: Settings, args: argparse.Namespace, argv: list[str]) -> int:
    """Run the N segments as processes, wait for all, combine their reports, verify once; the exit code."""
    count = args.parallel
    if not args.dry_run:
        prepare_splits(settings, count, args.restart)
    report = args.report or args.dead_letter.with_name("migration-report.json")
    logs = report.parent
    logs.mkdir(parents=True, exist_ok=True)
    flags = child_flags(argv)
    log_paths = [segment_path(logs / "migration.log", index, count) for index in range(count)]
    children = []
    for index in range(count):
        segment_path(report, index, count).unlink(missing_ok=True)  # a stale one would pass for this run's
        command = [sys.executable, "-m", "migration.run", *flags, "--segments", str(count), "--segment",
                   str(index + 1), "--no-verify", "--yes", "--report", str(report),
                   "--dead-letter", str(args.dead_letter)]
        log = open(log_paths[index], "w", encoding="utf-8")
        children.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
    print(f"{count} segments running; their output: {log_paths[0]} ... {log_paths[-1]}", flush=True)
    codes = []
    for process, log in children:
        codes.append(process.wait())
        log.close()
    reports, unfinished = combine_segment_reports(report, count)
    unfinished = sorted(set(unfinished) | {index + 1 for index, code in enumerate(codes)
                                           if code not in (EXIT_OK, EXIT_FAILED)})
    failed = bool(unfinished) or any(code != EXIT_OK for code in codes)
    verify_results = None
    if not args.dry_run and not args.no_verify and not unfinished:
        from migration.verify import has_differences, verify_all

        verify_results = verify_all(settings)
        failed = failed or has_differences(verify_results)
    exit_code = EXIT_FAILED if failed else EXIT_OK
    print(summary_table(reports, verify_results))
    for index, code in enumerate(codes):
        if code != EXIT_OK:
            print(f"segment {index + 1} of {count} exited {code}: see {log_paths[index]}")
    if unfinished:
        print(f"segments {', '.join(map(str, unfinished))} did not finish; run the same command again (without "
              f"--restart): each segment resumes from its checkpoint")
    write_report(report, "dry-run" if args.dry_run else "run", reports, verify_results, exit_code)
    print(f"\nreport: {report} (each segment's beside it)")
    return exit_code
