"""`make bench` (migration part): the migration measured side by side with its floor, in one run.

SecantusDB and moto server run in their own processes. For each size (20k and 100k images by default):
- migration: `python -m migration.run --collections images --no-verify --restart` in a child process, wall time
  of the load and the child's peak RSS;
- floor: the same items, converted beforehand, written by a raw BatchWriteItem loop with the same number of
  threads to the same server (what any loader must pay at least);
- naive: `put_item` one at a time, as the seed-era scripts do (on a slice; its rate is what matters);
- verify: `migration.verify` of the table vs a raw parallel Scan of it with as many segments;
- segments: the same `--segments-size` images loaded by 1, 2, 4 processes (`--parallel N`);
- media: the migration's media copy (`MediaCopier` on `--media-workers`) vs raw parallel `put_object` of the same
  files with as many threads, then the whole load with media (documents/s).
Targets (issues 3, 16): migration / floor <= 1.15; RSS grows <= 15 % from 20k to 100k; verify / scan <= 1.5;
media copy / raw put_object <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymongo

from bench.common import ROOT, drain, timed_child
from functions.shared.tables import IMAGES, create_table_kwargs
from local.aws import LocalAws, create_buckets, create_tables
from local.sample_data import SampleSpec, generate_images, seed
from local.services import MotoServer, SecantusDB
from migration.images import ImagesMapper
from migration.settings import resolve
from migration.verify import verify_all



def recreate_images_table(aws: LocalAws) -> str:
    dynamodb = aws.client("dynamodb")
    name = IMAGES.physical_name(aws.stage)
    try:
        dynamodb.delete_table(TableName=name)
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    dynamodb.create_table(**create_table_kwargs(IMAGES, name))
    return name


def floor_write(aws: LocalAws, table: str, items: list[dict[str, Any]], workers: int) -> float:
    """The raw loop: pre-converted items, 25 per BatchWriteItem, `workers` threads, no checkpoints."""
    from migration.writer import client_config

    client = aws.client("dynamodb", client_config(workers))

    def write(batch: list[dict[str, Any]]) -> None:
        pending = [{"PutRequest": {"Item": item}} for item in batch]
        while pending:
            pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(
                table, [])

    return drain([items[i:i + 25] for i in range(0, len(items), 25)], write, workers)


def naive_rate(aws: LocalAws, table: str, items: list[dict[str, Any]]) -> float:
    client = aws.client("dynamodb")
    started = time.monotonic()
    for item in items:
        client.put_item(TableName=table, Item=item)
    return len(items) / (time.monotonic() - started)


def raw_scan(aws: LocalAws, table: str, segments: int) -> float:
    client = aws.client("dynamodb")

    def segment(number: int) -> None:
        kwargs: dict[str, Any] = {"TableName": table, "Segment": number, "TotalSegments": segments}
        while True:
            page = client.scan(**kwargs)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return drain(list(range(segments)), segment, segments)


def measure(size: int, users: int, workers: int, naive_slice: int, mongo: SecantusDB, moto: MotoServer,
            workdir: Path) -> dict[str, Any]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    spec = SampleSpec(users=users, images=size, seed=11)
    seed(client.bench, spec)
    moto.reset()
    aws = LocalAws(moto.endpoint_url, stage="bench")
    create_tables(aws)
    env = {**os.environ, **aws.environment(), "PYTHONPATH": str(ROOT)}
    flags = ["--mongo-uri", mongo.uri, "--mongo-db", "bench", "--stage", "bench", "--collections", "images",
             "--workers", str(workers), "--dead-letter", str(workdir / "dead.jsonl")]

    migration = timed_child("migration.run", [*flags, "--no-verify", "--restart"], env)

    os.environ.update(aws.environment())
    settings = resolve(_parse(flags))
    started = time.monotonic()
    verified = verify_all(settings)["images"]
    verify_seconds = time.monotonic() - started
    scan_seconds = raw_scan(aws, IMAGES.physical_name("bench"), workers)

    mapper = ImagesMapper()
    items = []
    for doc in generate_images(spec):
        try:
            items.append(mapper.convert(doc).item)
        except Exception:
            pass
    table = recreate_images_table(aws)
    floor_seconds = floor_write(aws, table, items, workers)
    table = recreate_images_table(aws)
    naive = naive_rate(aws, table, items[:naive_slice])
    client.drop_database("bench")
    client.close()
    return {
        "images": size, "written": len(items), "workers": workers,
        "migration_seconds": migration["seconds"], "migration_docs_per_s": size / migration["seconds"],
        "migration_exit_code": migration["code"], "peak_rss_mb": migration["max_rss_mb"],
        "floor_seconds": floor_seconds, "floor_docs_per_s": len(items) / floor_seconds,
        "ratio_to_floor": migration["seconds"] / floor_seconds,
        "naive_put_item_docs_per_s": naive, "naive_slice": naive_slice,
        "verify_seconds": verify_seconds, "verify_matched": verified["matched"], "scan_seconds": scan_seconds,
        "verify_ratio_to_scan": verify_seconds / scan_seconds,
    }


def measure_segments(size: int, users: int, workers: int, counts: list[int], mongo: SecantusDB, moto: MotoServer,
                     workdir: Path) -> list[dict[str, Any]]:
    """The same images loaded by 1, 2, 4 ... processes (`--parallel N`; 1: one plain run), each on a fresh table."""
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    seed(client.bench, SampleSpec(users=users, images=size, seed=11))
    results = []
    for count in counts:
        moto.reset()
        aws = LocalAws(moto.endpoint_url, stage="bench")
        create_tables(aws)
        env = {**os.environ, **aws.environment(), "PYTHONPATH": str(ROOT)}
        flags = ["--mongo-uri", mongo.uri, "--mongo-db", "bench", "--stage", "bench", "--collections", "images",
                 "--workers", str(workers), "--dead-letter", str(workdir / "dead.jsonl"), "--no-verify", "--restart",
                 "--report", str(workdir / "segments.json"), *(["--parallel", str(count)] if count > 1 else [])]
        run = timed_child("migration.run", flags, env)
        written = count_items(aws, IMAGES.physical_name("bench"))
        results.append({"images": size, "processes": count, "seconds": run["seconds"], "written": written,
                        "docs_per_s": size / run["seconds"], "exit_code": run["code"]})
        print(f"  {count} process(es): {run['seconds']:.1f} s", file=sys.stderr, flush=True)
    client.drop_database("bench")
    client.close()
    return results


def measure_media(images: int, media_workers: int, mongo: SecantusDB, moto: MotoServer,
                  workdir: Path) -> dict[str, Any]:
    """The migration's media copy (MediaCopier, its own pool) vs raw parallel put_object of the same files with as
    many threads to the same endpoint; then the whole load with media, documents/s."""
    from migration.collections import mappers
    from migration.media import MediaCopier

    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    uploads = workdir / "uploads"
    spec = SampleSpec(users=max(10, images // 10), images=images, seed=17)
    seed(client.media, spec, uploads)
    mapper = mappers(uploads)["images"]
    files = []
    for doc in client.media.images.find({}):
        try:
            files.extend(mapper.convert(doc).media)
        except Exception:  # noqa: BLE001 - dead-lettered documents carry no media
            pass
    size_mb = sum((uploads / media.relative_path).stat().st_size for media in files) / 1e6
    moto.reset()
    aws = LocalAws(moto.endpoint_url, stage="bench")
    create_tables(aws)
    create_buckets(aws)
    bucket = "mumble-bench-media"
    os.environ.update(aws.environment())
    flags = ["--mongo-uri", mongo.uri, "--mongo-db", "media", "--stage", "bench", "--collections", "images",
             "--media-dir", str(uploads), "--media-bucket", bucket, "--media-workers", str(media_workers),
             "--dead-letter", str(workdir / "dead.jsonl"), "--no-verify", "--restart"]
    settings = resolve(_parse(flags))
    s3 = settings.media_client()

    def put(media: Any) -> None:
        with open(uploads / media.relative_path, "rb") as body:
            s3.put_object(Bucket=bucket, Key=media.key, Body=body)

    floor = drain(list(files), put, media_workers)
    _empty_bucket(s3, bucket)
    copier = MediaCopier(s3, bucket, uploads, media_workers)
    started = time.monotonic()
    copier.copy_all(files)
    copy_seconds = time.monotonic() - started
    copier.close()
    _empty_bucket(s3, bucket)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    load = timed_child("migration.run", flags, env)
    client.drop_database("media")
    client.close()
    return {"images": images, "files": len(files), "mb": size_mb, "media_workers": media_workers,
            "copy_seconds": copy_seconds, "floor_seconds": floor, "ratio_to_floor": copy_seconds / floor,
            "files_per_s": len(files) / copy_seconds, "mb_per_s": size_mb / copy_seconds,
            "load_seconds": load["seconds"], "load_docs_per_s": images / load["seconds"],
            "load_peak_rss_mb": load["max_rss_mb"]}


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def count_items(aws: LocalAws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def _parse(flags: list[str]) -> argparse.Namespace:
    from migration.run import build_parser

    return build_parser().parse_args(flags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.migration_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="image counts to measure (default: 20000,100000)")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--naive-slice", type=int, default=2000, help="documents the put_item baseline writes")
    parser.add_argument("--segments", default="1,2,4", help="process counts of the segments run (default: 1,2,4; "
                                                             "empty: skip)")
    parser.add_argument("--segments-size", type=int, default=20000, help="images of the segments run (default 20000)")
    parser.add_argument("--media-images", type=int, default=2000,
                        help="images (about 1.5 files each) of the media run (default 2000; 0: skip)")
    parser.add_argument("--media-workers", type=int, default=32, help="the media run's pool (default 32)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    counts = [int(c) for c in args.segments.split(",") if c]
    results: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    media: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as workdir, SecantusDB() as mongo, MotoServer() as moto:
        for size in sizes:
            print(f"measuring {size:,} images ...", file=sys.stderr, flush=True)
            results.append(measure(size, args.users, args.workers, args.naive_slice, mongo, moto, Path(workdir)))
        if counts:
            print(f"segments: {args.segments_size:,} images by {args.segments} processes ...", file=sys.stderr,
                  flush=True)
            segments = measure_segments(args.segments_size, args.users, args.workers, counts, mongo, moto,
                                        Path(workdir))
        if args.media_images:
            print(f"media: {args.media_images:,} images ...", file=sys.stderr, flush=True)
            media = measure_media(args.media_images, args.media_workers, mongo, moto, Path(workdir))
    print(f"{'images':>8} {'migration':>11} {'docs/s':>8} {'floor':>8} {'docs/s':>8} {'ratio':>6} "
          f"{'naive/s':>8} {'RSS MB':>7} {'verify':>8} {'scan':>7} {'ratio':>6}")
    for r in results:
        print(f"{r['images']:>8,} {r['migration_seconds']:>10.1f}s {r['migration_docs_per_s']:>8,.0f} "
              f"{r['floor_seconds']:>7.1f}s {r['floor_docs_per_s']:>8,.0f} {r['ratio_to_floor']:>6.2f} "
              f"{r['naive_put_item_docs_per_s']:>8,.0f} {r['peak_rss_mb']:>7.0f} {r['verify_seconds']:>7.1f}s "
              f"{r['scan_seconds']:>6.1f}s {r['verify_ratio_to_scan']:>6.2f}")
    if len(results) >= 2:
        growth = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"] - 1
        print(f"peak RSS {results[0]['images']:,} -> {results[-1]['images']:,} images: {growth:+.1%} "
              f"(target <= +15%)")
    print("targets: migration/floor <= 1.15, verify/scan <= 1.5; naive = put_item one by one, one thread")
    if segments:
        print(f"\nsegments ({segments[0]['images']:,} images, --workers {args.workers} each): " + ", ".join(
            f"{r['processes']} -> {r['seconds']:.1f} s ({r['docs_per_s']:,.0f} docs/s, "
            f"x{segments[0]['seconds'] / r['seconds']:.2f}"
            f"{'' if r['written'] == segments[0]['written'] else ', ITEMS DIFFER'})" for r in segments))
    if media:
        print(f"\nmedia: {media['files']:,} files, {media['mb']:.1f} MB, {media['media_workers']} workers: copy "
              f"{media['copy_seconds']:.1f} s ({media['files_per_s']:,.0f} files/s, {media['mb_per_s']:.1f} MB/s) vs "
              f"raw put_object {media['floor_seconds']:.1f} s, ratio {media['ratio_to_floor']:.2f} (target <= 1.2); "
              f"the whole load with media: {media['load_seconds']:.1f} s, {media['load_docs_per_s']:,.0f} docs/s, "
              f"peak RSS {media['load_peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"sizes": results, "segments": segments, "media": media}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
