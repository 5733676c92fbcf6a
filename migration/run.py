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

from migration.capacity import (NEW_ON_DEMAND_WRITES, SAMPLE_DOCUMENTS, TableCapacity, load_estimate,
                                table_capacity, write_units_per_item)
from migration.collections import mappers
from migration.load import (CHECKPOINT_SECONDS, CollectionReport, DeadLetterFile, Target, change_stream_position,
                            run_load)
from migration.mapping import Mapper
from migration.media import MediaCopier
from migration.progress import progress
from migration.report import summary_table, write_report
from migration.segments import (MAX_SEGMENTS, Segment, Split, add_segment_flags, record_split, segment_of,
                                segment_path, split_points)
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
  python -m migration.run --stack prod --mongo-uri "$MONGO_URI" --yes --parallel 4     # 4 segments, 4 processes
  python -m migration.run --stack prod --mongo-uri "$MONGO_URI" --yes --segments 16 --no-verify  # one of 16
      machines: --segment I, or AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX (0-based) + 1
"""


DEFAULT_CHECKPOINT_EVERY = 10  # a checkpoint PutItem per batch was ~17 % of a load's time

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migration.run", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
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
    split = add_segment_flags(parser)
    split.add_argument("--parallel", type=int, metavar="N",
                       help="run all N segments here as N processes (the split recorded first), then combine their "
                            "reports and verify once; memory: N times one load's")
    return parser


def migrate(settings: Settings, *, dry_run: bool, restart: bool, dead_letter: Path | None,
            dynamodb: Any = None, policy: RetryPolicy | None = None,
            checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, segments: int = 1,
            segment: int = 0) -> dict[str, CollectionReport]:
    """Load every selected collection (the users first, so images find their owners), or the `segment`-th
    (0-based) of `segments` ranges of each; returns the reports.

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
            capacity = estimate(settings, database[name], mapper, total, dynamodb)
            part, split_token = split_part(database[name], name, segments, segment,
                                           None if target is None else target.state)
            letters = segment_path(dead_letter or Path("migration-dead-letters.jsonl"), segment, segments)
            with progress(f"{'analysing' if dry_run else 'migrating'} {part.name}", total // segments) as advance:
                reports[name] = run_load(
                    database[name], mapper, batch_size=settings.batch_size, workers=settings.workers, target=target,
                    restart=restart, dead_letters=None if dry_run else DeadLetterFile(letters), progress=advance,
                    checkpoint_every=checkpoint_every, segment=part, split_token=split_token)
            reports[name].capacity = capacity
            if segments > 1:
                reports[name].segment = f"{segment + 1}of{segments}"
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


def split_part(collection: Any, name: str, segments: int, index: int,
               state: StateStore | None) -> tuple[Segment, Any]:
    """This process's segment of a collection and the split's change-stream position: the recorded split, or one
    recorded now; a dry-run computes it only."""
    if segments == 1:
        return Segment(name), None
    if state is None:
        return Split(name, segments, split_points(collection, segments), None, "").segment(index), None
    split = record_split(state, collection, name, segments, lambda: change_stream_position(collection))
    return split.segment(index), split.change_stream_token


def estimate(settings: Settings, collection: Any, mapper: Mapper, documents: int, dynamodb: Any) -> dict[str, Any]:
    """Print, before anything is written (and in dry-run), what the target table takes and the least time the
    load needs at that rate; returned for the report."""
    table = settings.tables.get(mapper.collection)
    if table is None:
        capacity = TableCapacity(f"the {mapper.collection} table", "unknown", NEW_ON_DEMAND_WRITES,
                                 "no table named (--stage/--stack): a new on-demand table's warm throughput")
    else:
        capacity = table_capacity(dynamodb or settings.client("dynamodb"), table)
    units = write_units_per_item(mapper, collection.find({}, limit=SAMPLE_DOCUMENTS))
    print(f"{mapper.collection}: {load_estimate(documents, units, capacity)}", flush=True)
    return {"table": capacity.table, "mode": capacity.mode, "writes_per_second": capacity.writes_per_second,
            "limited_by": capacity.limited_by, "write_units_per_item": round(units, 3),
            "estimated_seconds": round(capacity.seconds_for(documents * units), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.checkpoint_every <= 1000:
            raise UsageError(f"--checkpoint-every must be from 1 to 1000 (got {args.checkpoint_every})")
        if args.parallel is not None and not (2 <= args.parallel <= MAX_SEGMENTS and args.segments == 1
                                              and args.segment is None):
            raise UsageError(f"--parallel N runs segments 1-N itself: N from 2 to {MAX_SEGMENTS}, without "
                             f"--segments or --segment")
        settings = resolve(args, batch_size=args.batch_size)
        segment = segment_of(args)
        if not args.dry_run:
            check_targets(settings, [*settings.collections, "migration-state"], need_bucket=bool(args.media_dir))
            confirm_prod(settings, args.yes)
        if args.parallel:
            from migration.parallel import run_parallel

            return run_parallel(settings, args, list(argv if argv is not None else sys.argv[1:]))
        reports = migrate(settings, dry_run=args.dry_run, restart=args.restart, dead_letter=args.dead_letter,
                          checkpoint_every=args.checkpoint_every, segments=args.segments, segment=segment)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    failed = any(r.error or r.counts["dead_lettered"] for r in reports.values())
    verify_results = None
    if not args.dry_run and not args.no_verify and not any(r.error for r in reports.values()):
        from migration.verify import has_differences, verify_all

        verify_results = verify_all(settings, segments=args.segments, segment=segment)
        failed = failed or has_differences(verify_results)
    exit_code = EXIT_FAILED if failed else EXIT_OK
    print(summary_table(reports, verify_results))
    if args.report:
        report = segment_path(args.report, segment, args.segments)  # every array child may be given the same path
        write_report(report, "dry-run" if args.dry_run else "run", reports, verify_results, exit_code)
        print(f"\nreport: {report}")
    if any(r.counts["dead_lettered"] for r in reports.values()) and not args.dry_run:
        print(f"dead letters: {segment_path(args.dead_letter, segment, args.segments)}")
    return exit_code


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # stop like Ctrl-C: checkpoint kept
    sys.exit(main())
