"""A load split into segments (`--segments`, `--parallel`): ranges in MongoDB's order, split points recorded once,
a segment killed and re-run, exact combined reports, verification and the sync on the split."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from bson import Int64, ObjectId

from local.aws import LocalAws
from local.sample_data import SampleSpec
from migration import report as report_command
from migration import run, sync, verify
from migration.segments import Segment, id_range, read_split, sort_key, split_points
from tests.conftest import ROOT

SPEC = SampleSpec(users=60, images=400, seed=3)


def test_ranges_and_resumes_follow_mongodbs_order_across_id_types(mongo_db) -> None:
    """`$gt: "abc"` alone matches no ObjectId: a load resumed after a string id would skip them all."""
    ids = [-3, 2, Int64(7), 7.5, "", "abc", "zz", ObjectId("000000000000000000000001"),
           ObjectId("ffffffffffffffffffffffff"), True, dt.datetime(2024, 1, 1)]
    mongo_db.mixed.insert_many([{"_id": value} for value in ids])
    in_mongo_order = [doc["_id"] for doc in mongo_db.mixed.find(sort=[("_id", 1)])]
    assert sorted(ids, key=sort_key) == in_mongo_order
    for low in [None, *ids]:
        assert {str(d["_id"]) for d in mongo_db.mixed.find(id_range(after=low))} == \
            {str(v) for v in ids if low is None or sort_key(v) > sort_key(low)}, low
        for high in ids:
            expected = {str(v) for v in ids if (low is None or sort_key(v) >= sort_key(low))
                        and sort_key(v) < sort_key(high)}
            assert {str(d["_id"]) for d in mongo_db.mixed.find(id_range(low, high))} == expected, (low, high)
            segment = Segment("mixed", 0, 2, low, high)
            assert {str(v) for v in ids if segment.contains(v)} == expected


def count(aws: LocalAws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=f"mumble-test-{table}", Select="COUNT")
    return sum(page["Count"] for page in pages)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migration.run", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def test_split_points_are_recorded_once_and_every_segment_agrees(legacy, capsys) -> None:
    db = legacy["db"]
    assert split_points(db.images, 4) == split_points(db.images, 4)  # the same data, the same split
    assert run.main([*legacy["args"], "--segments", "4", "--segment", "2", "--no-verify"]) in (0, 1)
    first = read_split(legacy["state"], "images")
    assert first is not None and first.count == 4 and len(first.bounds) == 3 and first.change_stream_token
    db.images.insert_many([{"userId": ObjectId(), "prompt": f"new {i}", "createdAt": dt.datetime(2025, 1, 1)}
                           for i in range(50)])  # the data moves on; the recorded split does not
    os.environ["AWS_BATCH_JOB_ARRAY_INDEX"] = "2"  # segment 3, as an AWS Batch array child
    try:
        assert run.main([*legacy["args"], "--segments", "4", "--no-verify"]) in (0, 1)
    finally:
        del os.environ["AWS_BATCH_JOB_ARRAY_INDEX"]
    assert read_split(legacy["state"], "images") == first
    assert legacy["state"].load("load", "images@3of4").completed_at
    assert legacy["state"].load("load", "images@1of4") is None  # not started
    assert run.main([*legacy["args"], "--segments", "3", "--segment", "1"]) == 2
    assert "load is split into 4 segments (recorded " in capsys.readouterr().err
    assert run.main([*legacy["args"], "--segments", "4"]) == 2
    assert "needs --segment I (1-4), AWS_BATCH_JOB_ARRAY_INDEX, or --parallel 4" in capsys.readouterr().err


def test_parallel_segments_combine_exactly_and_verify(legacy, capsys) -> None:
    report = legacy["tmp"] / "report.json"
    result = _run([*legacy["args"], "--parallel", "3", "--report", str(report)])
    assert result.returncode == 1, result.stdout + result.stderr  # 1: the sample's dead-lettered documents
    assert report.exists(), result.stdout + result.stderr
    combined = json.loads(report.read_text())["collections"]
    parts = [json.loads((legacy["tmp"] / f"report.{i}of3.json").read_text())["collections"] for i in (1, 2, 3)]
    for name, total in (("users", SPEC.users), ("images", SPEC.images)):
        assert combined[name]["read"] == total == sum(part[name]["read"] for part in parts)
        assert combined[name]["written"] + combined[name]["dead_lettered"] == total
        assert combined[name]["written"] == count(legacy["aws"], name) == combined[name]["verify"]["matched"]
        assert combined[name]["verify"]["missing"] == combined[name]["verify"]["extra"] == 0
        assert combined[name]["segment"] == "3 segments" and [p[name]["segment"] for p in parts] == \
            ["1of3", "2of3", "3of3"]
    dead = [legacy["tmp"] / f"dead.{i}of3.jsonl" for i in (1, 2, 3)]
    assert sum(len(path.read_text().splitlines()) for path in dead if path.exists()) == \
        combined["users"]["dead_lettered"] + combined["images"]["dead_lettered"]
    assert "report.json (each segment's beside it)" in result.stdout
    # What an orchestrator runs after an array job: the same combination from the segments' reports.
    again = legacy["tmp"] / "again.json"
    for i in (1, 2, 3):
        (legacy["tmp"] / f"again.{i}of3.json").write_bytes((legacy["tmp"] / f"report.{i}of3.json").read_bytes())
    assert report_command.main(["--segments", "3", str(again)]) == 1  # 1: dead letters
    recombined = json.loads(again.read_text())["collections"]
    assert {name: {k: v for k, v in data.items() if k != "verify"} for name, data in combined.items()} == recombined
    (legacy["tmp"] / "again.2of3.json").unlink()
    assert report_command.main(["--segments", "3", str(again)]) == 1
    assert "segments 2 have no report or failed" in capsys.readouterr().out
    # Each segment verifies on its own too, and together they cover every document and item exactly once.
    results = [verify.verify_all(run.resolve(run.build_parser().parse_args(legacy["args"][:-2])), segments=3,
                                 segment=i) for i in range(3)]
    for name in ("users", "images"):
        assert sum(r[name]["matched"] for r in results) == combined[name]["written"]
        assert all(r[name]["missing"] == r[name]["extra"] == r[name]["different"] == 0 for r in results)
    # The sync starts from the split's change-stream position.
    image = legacy["db"].images.find_one({"createdAt": {"$type": "date"}, "userId": {"$type": "objectId"}})
    legacy["db"].images.update_one({"_id": image["_id"]}, {"$set": {"prompt": "after the split load",
                                                                     "updatedAt": dt.datetime.now()}})
    assert sync.main([*legacy["args"], "--once"]) == 0
    assert legacy["state"].load_document("sync#images")["counts"]["applied"] >= 1


def test_a_killed_segment_resumes_and_the_totals_stay_exact(legacy) -> None:
    flags = [*legacy["args"], "--collections", "images", "--batch-size", "5", "--checkpoint-every", "1",
             "--workers", "1", "--media-workers", "1"]
    process = subprocess.Popen([sys.executable, "-m", "migration.run", *flags, "--segments", "2", "--segment", "2",
                                "--no-verify"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            checkpoint = legacy["state"].load("load", "images@2of2")
            if checkpoint is not None and checkpoint.counts.get("read", 0) >= 40:
                break
            time.sleep(0.02)
        else:
            pytest.fail("segment 2 made no progress in 60 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = legacy["state"].load("load", "images@2of2")
    assert killed is not None and not killed.completed_at
    report = legacy["tmp"] / "report.json"
    result = _run([*flags, "--parallel", "2", "--report", str(report)])
    assert result.returncode == 1, result.stdout + result.stderr
    combined = json.loads(report.read_text())["collections"]["images"]
    second = json.loads((legacy["tmp"] / "report.2of2.json").read_text())["collections"]["images"]
    assert second["resumed_after"] is not None  # it went on from its checkpoint, not from the start
    assert combined["read"] == SPEC.images and combined["written"] + combined["dead_lettered"] == SPEC.images
    assert combined["verify"]["matched"] == combined["written"] == count(legacy["aws"], "images")
    assert combined["verify"]["missing"] == combined["verify"]["extra"] == 0
