"""`migration.run` and `migration.verify` against a real MongoDB wire server and a real AWS endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import pymongo
import pytest
from botocore.awsrequest import AWSResponse

from local.aws import LocalAws, create_tables
from local.sample_data import SampleSpec, seed
from local.services import SecantusDB
from migration import run, verify
from migration.settings import resolve
from migration.state import StateStore
from migration.writer import RetryPolicy

from tests.conftest import ROOT

SPEC = SampleSpec(users=60, images=400, seed=3)
T = TypeVar("T")


def count(aws: LocalAws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=f"mumble-test-{table}", Select="COUNT")
    return sum(page["Count"] for page in pages)


def report(path: Path) -> dict:
    return json.loads(path.read_text())["collections"]


def test_dry_run_analyses_everything_and_writes_nothing_anywhere(legacy, moto_server, capsys) -> None:
    moto_server.reset()  # not even the tables exist
    report_path = legacy["tmp"] / "dry.json"
    code = run.main([*legacy["args"], "--dry-run", "--report", str(report_path)])
    assert code == 1  # the sample holds documents that cannot be items (too large), which a run would dead-letter
    images = report(report_path)["images"]
    assert images["read"] == SPEC.images and images["would_write"] + images["dead_lettered"] == SPEC.images
    assert images["dead_letter_rules"] == {"item_too_large": 1}
    assert images["warnings"]["media_missing"] == images["media_missing"] > 0
    assert {"read", "would_write", "skipped", "dead_lettered", "warnings", "media_copied", "media_missing",
            "seconds"} <= set(images)
    out = capsys.readouterr().out
    assert "dead-letter item_too_large" in out
    # What the tables would take, before anything (here: a table that is not there yet, so a new one's rate).
    assert f"images: {SPEC.images:,} documents x 1.0" in out
    assert "mumble-test-images (unknown) takes 4,000 writes/s at once (not created yet" in out
    assert images["capacity"]["writes_per_second"] == 4000 and images["capacity"]["mode"] == "unknown"
    assert legacy["aws"].client("dynamodb").list_tables()["TableNames"] == []
    assert legacy["aws"].client("s3").list_buckets()["Buckets"] == []
    assert not (legacy["tmp"] / "dead.jsonl").exists()


def test_run_migrates_verifies_and_a_rerun_writes_nothing_new(legacy) -> None:
    report_path = legacy["tmp"] / "run.json"
    assert run.main([*legacy["args"], "--report", str(report_path)]) == 1  # 1: the dead-lettered documents
    first = report(report_path)
    for name, total in (("users", SPEC.users), ("images", SPEC.images)):
        assert first[name]["written"] + first[name]["dead_lettered"] == total
        assert count(legacy["aws"], name) == first[name]["written"]
        assert first[name]["verify"]["matched"] == first[name]["written"]
        assert first[name]["verify"]["missing"] == first[name]["verify"]["extra"] == 0
        assert first[name]["verify"]["different"] == first[name]["verify"]["media_mismatched"] == 0
    media = legacy["aws"].client("s3").list_objects_v2(Bucket="mumble-test-media")["KeyCount"]
    assert media == first["images"]["media_copied"] == first["images"]["this_run"]["media_uploaded"] > 0
    dead = [json.loads(line) for line in (legacy["tmp"] / "dead.jsonl").read_text().splitlines()]
    assert sorted(d["rule"] for d in dead) == ["item_too_large", "item_too_large"]
    assert all(json.loads(d["document"])["_id"] for d in dead)  # the original document, as extended JSON

    assert run.main([*legacy["args"], "--report", str(report_path)]) == 1
    again = report(report_path)
    assert again["images"]["this_run"].get("written", 0) == 0 and again["images"]["this_run"]["requests"] == 0
    assert again["images"]["this_run"].get("media_uploaded", 0) == 0
    assert again["images"]["written"] == first["images"]["written"]  # totals stay exact
    assert len((legacy["tmp"] / "dead.jsonl").read_text().splitlines()) == 2  # no duplicate dead letters


def test_unprocessed_items_and_throttling_are_retried_with_backoff(legacy) -> None:
    settings = resolve(run.build_parser().parse_args([*legacy["args"], "--collections", "images",
                                                      "--workers", "2"]))
    client = settings.client("dynamodb")
    injected = {"throttle": 3, "unprocessed": 3}

    def fault(request, **kwargs):
        if injected["throttle"]:
            injected["throttle"] -= 1
            body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",' \
                   b'"message":"slow down"}'
            return AWSResponse(request.url, 400, {}, _Raw(body))
        if injected["unprocessed"]:
            injected["unprocessed"] -= 1  # nothing is written; the whole request comes back unprocessed
            unprocessed = json.loads(request.body)["RequestItems"]
            return AWSResponse(request.url, 200, {}, _Raw(json.dumps({"UnprocessedItems": unprocessed}).encode()))
        return None

    client.meta.events.register("before-send.dynamodb.BatchWriteItem", fault)
    sleeps: list[float] = []
    policy = RetryPolicy(base_seconds=0.01, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    reports = run.migrate(settings, dry_run=False, restart=True, dead_letter=legacy["tmp"] / "dead.jsonl",
                          dynamodb=client, policy=policy)
    images = reports["images"]
    assert images.error is None and images.this_run["throttled_retried"] == 3
    assert images.this_run["unprocessed_retried"] > 0 and len(sleeps) == 6
    assert count(legacy["aws"], "images") == SPEC.images - 1
    assert verify.verify_all(settings)["images"]["matched"] == SPEC.images - 1


def test_a_batch_that_keeps_failing_leaves_the_checkpoint_behind_it(legacy) -> None:
    settings = resolve(run.build_parser().parse_args([*legacy["args"], "--collections", "images",
                                                      "--workers", "1"]))
    client = settings.client("dynamodb")
    calls = {"n": 0}

    def fail_after_two(request, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            return AWSResponse(request.url, 500, {}, _Raw(b'{"__type":"InternalServerError","message":"down"}'))
        return None

    client.meta.events.register("before-send.dynamodb.BatchWriteItem", fail_after_two)
    reports = run.migrate(settings, dry_run=False, restart=True, dead_letter=None, dynamodb=client,
                          policy=RetryPolicy(base_seconds=0.001, cap_seconds=0.01, budget_seconds=0.3))
    assert "gave up after" in (reports["images"].error or "")
    checkpoint = StateStore(client, "mumble-test-migration-state").load("load", "images")
    assert checkpoint is not None and checkpoint.counts["written"] == 50 and not checkpoint.completed_at
    # the next run resumes behind the failed batch and finishes
    assert run.main([*legacy["args"], "--collections", "images", "--no-verify"]) == 1
    assert count(legacy["aws"], "images") == SPEC.images - 1


def _checkpoint(aws: LocalAws, collection: str):
    try:
        return StateStore(aws.client("dynamodb"), "mumble-test-migration-state").load("load", collection)
    except Exception:
        return None


def _once_settled(read: Callable[[], T]) -> T:
    """What `read` sees once the local AWS has finished the requests a killed process still had in flight (moto
    goes on with a request whose client died): two reads 0.3 s apart that agree."""
    seen, deadline = read(), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = read()
        if again == seen:
            return again
        seen = again
    raise AssertionError("the local AWS kept changing for 10 s after the kill")


@pytest.mark.parametrize("kill_after_written, every", [(25, 1), (200, 1), (50, 2), (100, 4)])
def test_kill_9_at_any_point_then_resume_ends_exact(legacy, kill_after_written: int, every: int) -> None:
    args = [*legacy["args"], "--collections", "images", "--workers", "3", "--batch-size", "25", "--no-verify",
            "--checkpoint-every", str(every)]
    process = subprocess.Popen([sys.executable, "-m", "migration.run", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        checkpoint = _checkpoint(legacy["aws"], "images")
        if checkpoint and checkpoint.counts.get("written", 0) >= kill_after_written:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint, items = _once_settled(lambda: (_checkpoint(legacy["aws"], "images"), count(legacy["aws"], "images")))
    assert checkpoint is not None and not checkpoint.completed_at, "the run finished before it could be killed"
    beyond = items - checkpoint.counts["written"]
    assert 0 <= beyond <= (every - 1 + 2 * 3) * 25  # the stated bound: (K - 1 + 2 x workers) x batch size

    report_path = legacy["tmp"] / "resume.json"
    assert run.main([*args, "--report", str(report_path)]) == 1  # 1: the one dead-lettered document
    images = report(report_path)["images"]
    assert images["read"] == SPEC.images and images["written"] == SPEC.images - 1 and images["dead_lettered"] == 1
    assert images["this_run"]["read"] == SPEC.images - checkpoint.counts["read"]
    assert count(legacy["aws"], "images") == SPEC.images - 1
    result = verify.verify_all(resolve(run.build_parser().parse_args(args)))["images"]
    assert result["matched"] == SPEC.images - 1 and result["missing"] == result["different"] == 0


def test_kill_9_mid_media_upload_leaves_no_item_without_its_object_and_resume_re_uploads_nothing(legacy) -> None:
    args = [*legacy["args"], "--collections", "images", "--workers", "1", "--batch-size", "5",
            "--checkpoint-every", "1", "--media-workers", "2", "--no-verify"]
    s3, dynamodb = legacy["aws"].client("s3"), legacy["aws"].client("dynamodb")
    process = subprocess.Popen([sys.executable, "-m", "migration.run", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and \
            s3.list_objects_v2(Bucket="mumble-test-media").get("KeyCount", 0) < 60:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # uploads in flight, items of their batches not yet written
    process.wait()
    checkpoint = _once_settled(lambda: _checkpoint(legacy["aws"], "images"))
    assert checkpoint is not None and not checkpoint.completed_at, "the run finished before it could be killed"

    def objects() -> set[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mumble-test-media")
        return {entry["Key"] for page in pages for entry in page.get("Contents", [])}

    def items_without_their_object(present: set[str]) -> list[str]:
        pages = dynamodb.get_paginator("scan").paginate(TableName="mumble-test-images")
        return [item[f"{prefix}Key"]["S"] for page in pages for item in page["Items"]
                for prefix in ("image", "audio") if f"{prefix}Sha256" in item and item[f"{prefix}Key"]["S"]
                not in present]

    there = _once_settled(objects)
    assert items_without_their_object(there) == []
    report_path = legacy["tmp"] / "resume.json"
    assert run.main([*args, "--report", str(report_path)]) == 1  # 1: the dead-lettered document
    images = report(report_path)["images"]
    after = objects()
    assert there < after and images["this_run"]["media_uploaded"] == len(after) - len(there)  # none twice
    assert items_without_their_object(after) == []
    assert len(after) == images["media_copied"]


def test_a_mongodb_outage_mid_run_is_a_clear_error_and_the_rerun_resumes(local_aws, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SecantusDB(storage_path=data, log_dir=tmp_path) as server:
        seed(pymongo.MongoClient(server.uri).mumble, SampleSpec(users=10, images=1500, seed=5))
    create_tables(local_aws)
    server = SecantusDB(storage_path=data, log_dir=tmp_path).start()
    args = ["--endpoint-url", local_aws.endpoint_url, "--stage", "test", "--collections", "images", "--no-verify",
            "--workers", "1", "--batch-size", "5", "--dead-letter", str(tmp_path / "dead.jsonl")]
    process = subprocess.Popen([sys.executable, "-m", "migration.run", "--mongo-uri", server.uri, *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and getattr(_checkpoint(local_aws, "images"), "watermark", None) is None:
        time.sleep(0.01)
    server.stop()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "images: FAILED: reading images from MongoDB failed" in out
    with SecantusDB(storage_path=data, log_dir=tmp_path) as server:
        assert pymongo.MongoClient(server.uri).mumble.images.count_documents({}) == 1500
        assert run.main(["--mongo-uri", server.uri, *args]) == 1  # dead letters only
    assert count(local_aws, "images") == 1500 - 1


def test_verify_finds_deleted_extra_changed_and_corrupted_data(legacy, capsys) -> None:
    run.main([*legacy["args"], "--no-verify"])
    dynamodb, s3 = legacy["aws"].client("dynamodb"), legacy["aws"].client("s3")
    items = dynamodb.scan(TableName="mumble-test-images", Limit=50)["Items"]
    with_media = next(i for i in items if "imageKey" in i)
    deleted, changed = [i for i in items if i is not with_media][:2]
    dynamodb.delete_item(TableName="mumble-test-images",
                         Key={"imageId": deleted["imageId"], "createdAt": deleted["createdAt"]})
    dynamodb.put_item(TableName="mumble-test-images", Item={**changed, "prompt": {"S": "tampered"}})
    dynamodb.put_item(TableName="mumble-test-images", Item={"imageId": {"S": "6b02c9d474ade8230da96b7d"},
                                                            "createdAt": {"S": "2026-01-01T00:00:00.000Z"}})
    s3.put_object(Bucket="mumble-test-media", Key=with_media["imageKey"]["S"], Body=b"bit rot")

    report_path = legacy["tmp"] / "verify.json"
    connection = legacy["args"][:-2]  # verify takes the connection flags, not --dead-letter
    assert verify.main([*connection, "--collections", "images", "--report", str(report_path)]) == 1
    result = report(report_path)["images"]["verify"]
    assert result["missing"] == 1 and result["sample_ids"]["missing"] == [deleted["imageId"]["S"]]
    assert result["different"] == 1 and result["sample_ids"]["different"] == [changed["imageId"]["S"]]
    assert result["extra"] == 1 and result["sample_ids"]["extra"] == ["6b02c9d474ade8230da96b7d"]
    assert result["media_mismatched"] == 1 and result["sample_ids"]["media_mismatched"] == [with_media["imageKey"]["S"]]
    assert "missing 1, extra 1, different 1" in capsys.readouterr().out
    assert verify.main([*connection, "--collections", "users"]) == 0


@pytest.mark.parametrize("extra_args, message", [
    (["--batch-size", "30"], "--batch-size must be from 1 to 25"),
    (["--collections", "users,videos"], "--collections: unknown videos"),
    (["--workers", "0"], "--workers must be from 1 to 64"),
    (["--media-dir", "/nonexistent/uploads"], "--media-dir /nonexistent/uploads is not a directory"),
    (["--stage", "missing"], "table mumble-missing-users does not exist"),
    (["--media-bucket", "no-such-bucket"], "media bucket no-such-bucket is not reachable"),
])
def test_bad_flags_and_targets_exit_2_with_one_line(legacy, capsys, extra_args, message) -> None:
    assert run.main([*legacy["args"], *extra_args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert count(legacy["aws"], "users") == 0  # nothing was written


def test_a_table_with_the_wrong_key_schema_or_an_unreachable_mongodb_exit_2(legacy, capsys) -> None:
    dynamodb = legacy["aws"].client("dynamodb")
    dynamodb.create_table(TableName="wrong-images", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "imageId", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "imageId", "AttributeType": "S"}])
    assert run.main([*legacy["args"], "--images-table", "wrong-images"]) == 2
    assert "table wrong-images has the wrong key schema: table wrong-images key schema is imageId HASH (S), " \
           "expected imageId HASH (S), createdAt RANGE (S)" in capsys.readouterr().err
    args = [a if "mongodb://" not in a else "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"
            for a in legacy["args"]]
    assert run.main([*args, "--dry-run"]) == 2
    assert "cannot reach MongoDB at mongodb://127.0.0.1:9" in capsys.readouterr().err
    assert count(legacy["aws"], "users") == 0


def test_prod_needs_yes_when_there_is_no_terminal(legacy) -> None:
    args = [a.replace("--stage", "--users-table") if a == "--stage" else a for a in legacy["args"]]
    process = subprocess.run([sys.executable, "-m", "migration.run", *args[:args.index("--users-table")],
                              "--stage", "prod", "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, env={**os.environ})
    assert process.returncode in (0, 1)  # a dry-run writes nothing, so it needs no confirmation
    process = subprocess.run([sys.executable, "-m", "migration.run", "--mongo-uri", legacy["args"][1],
                              "--stage", "prod", "--users-table", "mumble-test-users", "--images-table",
                              "mumble-test-images", "--state-table", "mumble-test-migration-state"],
                             cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert process.returncode == 2
    assert "refusing to write to the prod stage without --yes" in process.stderr
    assert count(legacy["aws"], "users") == 0


class _Raw:
    """The raw body botocore reads from a response a hook returns."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body

    def read(self, *args) -> bytes:
        return self.body
