"""`make bench` (sync part): how fast `migration.sync` catches up on a backlog, against its floor, in one run.

SecantusDB and moto server run in their own processes. The full load of `--images` images runs first; then
`--changes` updates (a new prompt and `updatedAt` each, on distinct documents) wait in the change stream - the
backlog a sync meets after a long full load. For each thread count (`--workers`, default 1,4,16):
- sync: `python -m migration.sync --once --collections images --workers W` in a child process, from the load's
  position (its checkpoint dropped before each run, so every run applies the same backlog): wall time, changes/s,
  peak RSS;
- floor: the same changed documents, converted beforehand, written by raw conditional `put_item`s (the sync's
  version rule as the condition) on W threads to the same server - one round trip per change, what any
  applier under that rule pays at least;
- stream: reading the backlog's change stream alone (`fullDocument: updateLookup`, no writes), once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymongo
from pymongo import UpdateOne

from bench.common import ROOT, drain, timed_child
from functions.shared.tables import IMAGES, MIGRATION_STATE
from functions.shared.versions import ORIGIN_LEGACY
from local.aws import LocalAws, create_tables
from local.sample_data import SampleSpec, seed
from local.services import MotoServer, SecantusDB
from migration.images import ImagesMapper
from migration.state import StateStore
from migration.sync import NAMES, REPLACES
from migration.writer import client_config



def make_backlog(database: Any, changes: int) -> list[dict[str, Any]]:
    """`changes` updates on distinct documents that convert cleanly; returns the items they become (the floor's)."""
    mapper = ImagesMapper()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    updates, items = [], []
    for doc in database.images.find({}, batch_size=1000):
        changed = {**doc, "prompt": f"changed {len(items)}", "updatedAt": now}
        try:
            converted = mapper.convert(changed)
        except Exception:  # noqa: BLE001 - dead-lettered documents are not part of the backlog
            continue
        if converted.findings.paths:
            continue
        updates.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"prompt": changed["prompt"], "updatedAt": now}}))
        items.append(converted.item)
        if len(items) == changes:
            break
    for start in range(0, len(updates), 1000):
        database.images.bulk_write(updates[start:start + 1000], ordered=True)
    return items


def read_stream(database: Any, position: dict[str, Any], changes: int) -> float:
    """The backlog's change stream read alone, as the sync reads it."""
    kwargs = {"resume_after": position["resumeAfter"]} if "resumeAfter" in position else \
        {"start_at_operation_time": position["startAtOperationTime"]}
    started, seen = time.monotonic(), 0
    with database.images.watch(full_document="updateLookup", max_await_time_ms=250, **kwargs) as stream:
        while seen < changes:
            if stream.try_next() is not None:
                seen += 1
            elif time.monotonic() - started > 600:
                raise RuntimeError(f"the change stream gave {seen} of {changes} changes in 600 s")
    return time.monotonic() - started


def floor_apply(aws: LocalAws, table: str, items: list[dict[str, Any]], workers: int) -> float:
    """Raw conditional puts under the sync's version rule, `workers` threads."""
    client = aws.client("dynamodb", client_config(workers))

    def put(item: dict[str, Any]) -> None:
        client.put_item(TableName=table, Item=item, ConditionExpression=REPLACES, ExpressionAttributeNames=NAMES,
                        ExpressionAttributeValues={":v": item["sourceVersion"], ":legacy": {"S": ORIGIN_LEGACY}})

    return drain(list(items), put, workers)


def measure(images: int, changes: int, worker_counts: list[int], batch_size: int, mongo: SecantusDB,
            moto: MotoServer, workdir: Path) -> dict[str, Any]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    database = client.syncbench
    seed(database, SampleSpec(users=max(10, images // 10), images=images, seed=13))
    moto.reset()
    aws = LocalAws(moto.endpoint_url, stage="bench")
    create_tables(aws)
    env = {**os.environ, **aws.environment(), "PYTHONPATH": str(ROOT)}
    flags = ["--mongo-uri", mongo.uri, "--mongo-db", "syncbench", "--stage", "bench", "--collections", "images",
             "--dead-letter", str(workdir / "dead.jsonl")]
    subprocess.run([sys.executable, "-m", "migration.run", *flags, "--no-verify", "--restart"], cwd=ROOT, env=env,
                   capture_output=True, check=False)
    state = StateStore(aws.client("dynamodb"), MIGRATION_STATE.physical_name("bench"))
    loaded = state.load("load", "images")
    if loaded is None or not loaded.change_stream_token:
        raise RuntimeError("the full load recorded no change-stream position")
    started = time.monotonic()
    items = make_backlog(database, changes)
    print(f"  backlog of {len(items):,} changes made in {time.monotonic() - started:.1f} s", file=sys.stderr,
          flush=True)
    stream_seconds = read_stream(database, loaded.change_stream_token, len(items))
    runs = []
    for workers in worker_counts:
        state.delete("sync", "images")  # from the load's position again: the same backlog
        result = timed_child("migration.sync", [*flags, "--once", "--workers", str(workers), "--batch-size",
                                                str(batch_size)], env)
        counts = (state.load_document("sync#images") or {}).get("counts", {})
        floor = floor_apply(aws, IMAGES.physical_name("bench"), items, workers)
        runs.append({"workers": workers, "sync_seconds": result["seconds"], "exit_code": result["code"],
                     "applied": counts.get("applied", 0), "peak_rss_mb": result["max_rss_mb"],
                     "changes_per_s": len(items) / result["seconds"], "floor_seconds": floor,
                     "floor_changes_per_s": len(items) / floor, "ratio_to_floor": result["seconds"] / floor})
        print(f"  workers {workers}: sync {result['seconds']:.1f} s, floor {floor:.1f} s", file=sys.stderr,
              flush=True)
    client.drop_database("syncbench")
    client.close()
    return {"images": images, "changes": len(items), "stream_seconds": stream_seconds, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000, help="images loaded before the backlog (default 12000)")
    parser.add_argument("--changes", type=int, default=10000, help="the backlog: changed documents (default 10000)")
    parser.add_argument("--workers", default="1,4,16", help="thread counts to measure (default: 1,4,16)")
    parser.add_argument("--batch-size", type=int, default=100, help="the sync's --batch-size (default 100)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as workdir, SecantusDB() as mongo, MotoServer() as moto:
        print(f"sync catch-up: {args.changes:,} changes after a load of {args.images:,} images ...", file=sys.stderr,
              flush=True)
        result = measure(args.images, args.changes, worker_counts, args.batch_size, mongo, moto, Path(workdir))
    print(f"sync catch-up, backlog of {result['changes']:,} changes (reading the stream alone: "
          f"{result['stream_seconds']:.1f} s, {result['changes'] / result['stream_seconds']:,.0f} changes/s)")
    print(f"{'workers':>8} {'sync':>8} {'chg/s':>7} {'floor':>8} {'chg/s':>7} {'ratio':>6} {'RSS MB':>7}")
    for run in result["runs"]:
        print(f"{run['workers']:>8} {run['sync_seconds']:>7.1f}s {run['changes_per_s']:>7,.0f} "
              f"{run['floor_seconds']:>7.1f}s {run['floor_changes_per_s']:>7,.0f} {run['ratio_to_floor']:>6.2f} "
              f"{run['peak_rss_mb']:>7.0f}")
    print("floor = raw conditional put_item of the same changed items on as many threads; the sync also reads the "
          "stream, converts, groups by document and checkpoints")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
