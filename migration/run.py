"""`python -m migration.run`: stream the legacy `users` and `images` (and media files) into DynamoDB and S3.

Exit codes: 0 everything migrated (dry-run: analysed) and verified; 1 documents dead-lettered, a write failed, or
verification found differences; 2 a usage or configuration error, found before anything is written.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from migration.collections import mappers
from migration.load import CHECKPOINT_SECONDS, CollectionReport, DeadLetterFile, Target, run_load
from migration.media import MediaCopier
from migration.progress import progress
from migration.report import write_report
from migration.settings import (
    DEFAULT_MEDIA_WORKERS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Settings,
    UsageError,
    add_connection_flags,
    check_mongo,
    check_targets,
    confirm_prod,
    resolve,
)
from migration.state import StateStore
from migration.writer import RetryPolicy, WriteStats

EXAMPLES = """examples:
  python -m migration.run --dry-run --mongo-uri mongodb://legacy:27017 --stage prod --media-dir /var/www/uploads
  python -m migration.run --stack prod --mongo-uri "$MONGO_URI" --media-dir /var/www/uploads --yes
  MONGO_URI=mongodb://127.0.0.1:27017 python -m migration.run --stage local --collections images --restart
"""


DEFAULT_CHECKPOINT_EVERY = 10  # a checkpoint PutItem per batch was ~17 % of a load's time

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migration.run", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true",
                        help="read, convert and validate everything; write nothing anywhere; tables need not exist")
    add_connection_flags(parser)
    parser.add_argument("--batch-size", type=int, default=25, help="items per BatchWriteItem, 1-25 (default: 25)")
    parser.add_argument("--media-workers", type=int, default=DEFAULT_MEDIA_WORKERS,
                        help=f"concurrent media uploads, a pool of their own sized for S3 rather than DynamoDB "
                             f"(default: {DEFAULT_MEDIA_WORKERS}, 1-256); memory: each upload streams its file from "
                             f"disk, so at most this many files and connections are open at once")
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint and load from the start")
    parser.add_argument("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY, metavar="K",
                        help=f"save the checkpoint every K committed batches (and at least every "
                             f"{CHECKPOINT_SECONDS:g} s), 1-1000 (default: {DEFAULT_CHECKPOINT_EVERY}); a kill -9 "
                             f"re-writes at most (K - 1 + 2 x workers) x batch-size items on resume")
    parser.add_argument("--no-verify", action="store_true", help="skip the verification after the load")
    parser.add_argument("--dead-letter", type=Path, default=Path("migration-dead-letters.jsonl"),
                        help="JSON-lines file for documents that cannot become items "
                             "(default: migration-dead-letters.jsonl)")
    parser.add_argument("--yes", action="store_true", help="do not ask before writing to the prod stage")
    return parser


def migrate(settings: Settings, *, dry_run: bool, restart: bool, dead_letter: Path | None,
            dynamodb: Any = None, policy: RetryPolicy | None = None,
            checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> dict[str, CollectionReport]:
    """Load every selected collection (the users first, so images find their owners); returns the reports.

    `dynamodb` and `policy` let a caller supply its own client (with botocore event hooks, say) and retry policy.
    """
    mongo = check_mongo(settings)
    database = mongo[settings.mongo_db]
    stats = WriteStats()
    reports: dict[str, CollectionReport] = {}
    try:
        for name in settings.collections:
            mapper = mappers(settings.media_dir)[name]
            target = None
            if not dry_run:
                client = dynamodb or settings.client("dynamodb")
                copier = None
                if settings.media_dir is not None and name == "images":
                    copier = MediaCopier(settings.media_client(), settings.media_bucket or "", settings.media_dir,
                                         settings.media_workers)
                target = Target(client, settings.tables[name], StateStore(client, settings.tables["migration-state"]),
                                copier, policy or RetryPolicy(), stats)
            total = database[name].estimated_document_count()
            with progress(f"{'analysing' if dry_run else 'migrating'} {name}", total) as advance:
                reports[name] = run_load(
                    database[name], mapper, batch_size=settings.batch_size, workers=settings.workers, target=target,
                    restart=restart, dead_letters=None if dry_run else DeadLetterFile(dead_letter or Path(
                        "migration-dead-letters.jsonl")), progress=advance, checkpoint_every=checkpoint_every)
            if target is not None and target.media is not None:
                target.media.close()
            reports[name].this_run.update({"requests": stats.requests,
                                           "unprocessed_retried": stats.unprocessed_retried,
                                           "throttled_retried": stats.throttled_retried})
            if reports[name].error:
                break
    finally:
        mongo.close()
    return reports


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.checkpoint_every <= 1000:
            raise UsageError(f"--checkpoint-every must be from 1 to 1000 (got {args.checkpoint_every})")
        settings = resolve(args, batch_size=args.batch_size)
        if not args.dry_run:
            check_targets(settings, [*settings.collections, "migration-state"], need_bucket=bool(args.media_dir))
            confirm_prod(settings, args.yes)
        reports = migrate(settings, dry_run=args.dry_run, restart=args.restart, dead_letter=args.dead_letter,
                          checkpoint_every=args.checkpoint_every)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    failed = any(r.error or r.counts["dead_lettered"] for r in reports.values())
    verify_results = None
    if not args.dry_run and not args.no_verify and not any(r.error for r in reports.values()):
        from migration.verify import has_differences, verify_all

        verify_results = verify_all(settings)
        failed = failed or has_differences(verify_results)
    exit_code = EXIT_FAILED if failed else EXIT_OK
    print(summary_table(reports, verify_results))
    if args.report:
        write_report(args.report, "dry-run" if args.dry_run else "run", reports, verify_results, exit_code)
        print(f"\nreport: {args.report}")
    if any(r.counts["dead_lettered"] for r in reports.values()) and not args.dry_run:
        print(f"dead letters: {args.dead_letter}")
    return exit_code


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # stop like Ctrl-C: checkpoint kept
    sys.exit(main())
