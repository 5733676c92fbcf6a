"""`python -m migration.sync` against a real MongoDB wire server (change streams) and the local AWS endpoint."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from bson import ObjectId

from functions.shared.versions import ORIGIN_AWS, format_timestamp, now_millis, stamp, timestamp_millis
from local.sample_data import SampleSpec
from migration import run, sync, verify
from migration.collections import mappers
from migration.convert import Unconvertible
from tests.conftest import ROOT

SPEC = SampleSpec(users=20, images=120, seed=5)


def load(legacy: dict) -> None:
    assert run.main([*legacy["args"], "--no-verify"]) in (0, 1)  # 1: the sample's dead-lettered documents


def sync_once(legacy: dict) -> int:
    return sync.main([*legacy["args"], "--once"])


def verified(legacy: dict) -> bool:
    return verify.main(legacy["args"][:-2]) == 0  # all but --dead-letter


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def images_of(legacy: dict, image_id: str) -> list[dict[str, Any]]:
    return legacy["dynamodb"].query(TableName="mumble-test-images", KeyConditionExpression="imageId = :i",
                                    ExpressionAttributeValues={":i": {"S": image_id}})["Items"]


def user_item(legacy: dict, user_id: str) -> dict[str, Any] | None:
    return legacy["dynamodb"].get_item(TableName="mumble-test-users", Key={"userId": {"S": user_id}}).get("Item")


def clean_image(db: Any) -> dict[str, Any]:
    """An image document that converts without findings (sample data has deliberate drift)."""
    return db.images.find_one({"userId": {"$type": "objectId"}, "createdAt": {"$type": "date"},
                               "imageUrl": {"$regex": "^/uploads/images/"}})


def test_changes_made_during_and_after_the_full_load_all_arrive(legacy) -> None:
    db = legacy["db"]
    users = [u["_id"] for u in db.users.find({"_id": {"$type": "objectId"}}, {"_id": 1}).limit(6)]
    during = threading.Thread(target=lambda: [db.users.update_one(
        {"_id": user_id}, {"$set": {"displayName": f"renamed during the load {i}", "updatedAt": now()}})
        for i, user_id in enumerate(users[:3])])
    during.start()
    load(legacy)
    during.join()

    new_image = {"_id": ObjectId(), "userId": users[0], "prompt": "a new one", "createdAt": now(),
                 "updatedAt": now()}
    db.images.insert_one(new_image)
    db.users.update_one({"_id": users[3]}, {"$set": {"displayName": "renamed after", "updatedAt": now()}})
    db.users.update_one({"_id": users[4]}, {"$set": {"bio": "no timestamp bump"}})  # legacy code without updatedAt
    replaced = clean_image(db)
    db.images.replace_one({"_id": replaced["_id"]}, {**replaced, "prompt": "replaced", "updatedAt": now()})
    deleted = db.images.find_one({"_id": {"$ne": replaced["_id"]}, "createdAt": {"$type": "date"}})
    db.images.delete_one({"_id": deleted["_id"]})
    db.users.delete_one({"_id": users[5]})

    assert sync_once(legacy) == 0
    assert verified(legacy)
    assert images_of(legacy, str(new_image["_id"]))[0]["prompt"] == {"S": "a new one"}
    assert images_of(legacy, str(deleted["_id"])) == [] and user_item(legacy, str(users[5])) is None
    assert user_item(legacy, str(users[0]))["displayName"] == {"S": "renamed during the load 0"}
    assert user_item(legacy, str(users[4]))["bio"] == {"S": "no timestamp bump"}
    heartbeat = legacy["state"].load_document("sync#images")
    assert heartbeat["resumeToken"] and heartbeat["lagSeconds"] == 0 and heartbeat["counts"]["deleted"] == 1


def test_a_changed_sort_key_moves_the_item_in_one_transaction(legacy) -> None:
    load(legacy)
    image = clean_image(legacy["db"])
    later = image["createdAt"] + dt.timedelta(days=3)
    legacy["db"].images.update_one({"_id": image["_id"]}, {"$set": {"createdAt": later, "updatedAt": now()}})
    assert sync_once(legacy) == 0
    (item,) = images_of(legacy, str(image["_id"]))
    assert item["createdAt"] == {"S": format_timestamp(later)}
    assert legacy["state"].load_document("sync#images")["counts"]["moved"] == 1
    assert verified(legacy)


def test_replaying_changes_twice_changes_nothing(legacy) -> None:
    load(legacy)
    db = legacy["db"]
    image = clean_image(db)
    for i in range(5):
        db.images.update_one({"_id": image["_id"]}, {"$set": {"prompt": f"take {i}", "updatedAt": now()}})
    db.images.update_one({"_id": image["_id"]}, {"$set": {"createdAt": now()}})
    assert sync_once(legacy) == 0
    legacy["state"].delete("sync", "images")  # forget the checkpoint: everything since the load is read again
    assert sync_once(legacy) == 0
    (item,) = images_of(legacy, str(image["_id"]))
    assert item["prompt"] == {"S": "take 4"}
    assert verified(legacy)


def converts(mapper: Any, doc: dict[str, Any]) -> bool:
    """The document becomes an item without any finding."""
    return not unconvertible(mapper, doc) and not mapper.convert(doc).findings.paths


def unconvertible(mapper: Any, doc: dict[str, Any]) -> bool:
    try:
        mapper.convert(doc)
    except Unconvertible:
        return True
    return False


def test_concurrent_apply_keeps_each_documents_changes_in_order(legacy) -> None:
    """Many documents, each with a run of replacements the version rule cannot order (the legacy app's writes
    that leave `updatedAt` alone: equal versions, so the later one wins by order alone; replace events carry
    their own document, unlike updates, which read the latest), half of them ending in a delete. Applied on 8
    threads: every document ends as its last change left it, and no delete is undone."""
    load(legacy)
    db = legacy["db"]
    mapper = mappers(legacy["uploads"])["images"]
    images = [doc for doc in db.images.find({"_id": {"$type": "objectId"}}) if converts(mapper, doc)][:30]
    assert len(images) == 30
    for image in images:
        for take in range(6):
            db.images.replace_one({"_id": image["_id"]}, {**image, "prompt": f"take {take}"})
    deleted = images[::2]
    for image in deleted:
        db.images.replace_one({"_id": image["_id"]}, {**image, "prompt": "just before the delete"})
        db.images.delete_one({"_id": image["_id"]})
    assert sync.main([*legacy["args"], "--once", "--workers", "8", "--batch-size", "500"]) == 0
    for image in images:
        items = images_of(legacy, str(image["_id"]))
        if image in deleted:
            assert items == [], f"{image['_id']} came back after its delete"
        else:
            assert [item["prompt"] for item in items] == [{"S": "take 5"}], image["_id"]
    counts = legacy["state"].load_document("sync#images")["counts"]
    assert counts["deleted"] == len(deleted)
    assert verified(legacy)


def test_a_changed_document_that_cannot_become_an_item_is_dead_lettered(legacy) -> None:
    load(legacy)
    db, dead = legacy["db"], legacy["tmp"] / "dead.jsonl"
    mapper = mappers(legacy["uploads"])["images"]
    unusable = next(doc for doc in db.images.find() if unconvertible(mapper, doc))
    dead.unlink()
    db.images.update_one({"_id": unusable["_id"]}, {"$set": {"prompt": "still unusable"}})
    assert sync_once(legacy) == 0
    (record,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert record["collection"] == "images" and record["rule"] and record["message"]
    assert legacy["state"].load_document("sync#images")["counts"]["dead_lettered"] == 1


def test_a_document_whose_id_no_item_can_have_is_dead_lettered_and_its_delete_ignored(legacy) -> None:
    load(legacy)
    db, dead = legacy["db"], legacy["tmp"] / "dead.jsonl"
    dead.unlink()
    db.images.insert_one({"_id": {"compound": 1}, "prompt": "an object id", "createdAt": now()})
    db.images.delete_one({"_id": {"compound": 1}})
    assert sync.main([*legacy["args"], "--once", "--workers", "4"]) == 0
    (record,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert record["rule"] == "key_type"
    counts = legacy["state"].load_document("sync#images")["counts"]
    assert counts["dead_lettered"] == 1 and counts["absent"] == 1


def test_a_newer_write_on_the_new_stack_wins_and_is_counted_as_a_conflict(legacy) -> None:
    load(legacy)
    user = legacy["db"].users.find_one({"_id": {"$type": "objectId"}})
    user_id = str(user["_id"])
    legacy_edit = now()
    time.sleep(0.01)
    stamped = stamp()
    legacy["dynamodb"].update_item(
        TableName="mumble-test-users", Key={"userId": {"S": user_id}},
        UpdateExpression="SET displayName = :n, updatedAt = :u, sourceVersion = :v, origin = :o",
        ExpressionAttributeValues={":n": {"S": "set on the new stack"}, ":u": {"S": stamped["updatedAt"]},
                                   ":v": {"N": str(stamped["sourceVersion"])}, ":o": {"S": ORIGIN_AWS}})
    legacy["db"].users.update_one({"_id": user["_id"]}, {"$set": {"displayName": "older legacy edit",
                                                                  "updatedAt": legacy_edit}})
    assert sync_once(legacy) == 0
    assert user_item(legacy, user_id)["displayName"] == {"S": "set on the new stack"}
    heartbeat = legacy["state"].load_document("sync#users")
    assert heartbeat["conflicts"] == 1 and heartbeat["recentConflicts"][0]["id"] == user_id


def test_the_reverse_syncs_own_write_coming_back_is_an_echo(legacy) -> None:
    load(legacy)
    user = legacy["db"].users.find_one({"_id": {"$type": "objectId"}})
    millis = now_millis()
    values = stamp(millis)
    legacy["dynamodb"].update_item(
        TableName="mumble-test-users", Key={"userId": {"S": str(user["_id"])}},
        UpdateExpression="SET displayName = :n, updatedAt = :u, sourceVersion = :v, origin = :o",
        ExpressionAttributeValues={":n": {"S": "from the new stack"}, ":u": {"S": values["updatedAt"]},
                                   ":v": {"N": str(millis)}, ":o": {"S": ORIGIN_AWS}})
    # What the reverse sync writes into MongoDB for that change:
    legacy["db"].users.update_one({"_id": user["_id"]}, {"$set": {
        "displayName": "from the new stack", "updatedAt": dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc)
        .replace(tzinfo=None), "sourceVersion": millis, "origin": ORIGIN_AWS}})
    assert timestamp_millis(values["updatedAt"]) == millis
    assert sync_once(legacy) == 0
    heartbeat = legacy["state"].load_document("sync#users")
    assert heartbeat["counts"].get("echo") == 1 and heartbeat["conflicts"] == 0
    assert user_item(legacy, str(user["_id"]))["origin"] == {"S": ORIGIN_AWS}


def test_killing_the_sync_and_starting_it_again_loses_and_duplicates_nothing(legacy) -> None:
    load(legacy)
    db = legacy["db"]
    owner = db.users.find_one({"_id": {"$type": "objectId"}})["_id"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "migration.sync", *legacy["args"], "--batch-size", "10"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ids = []
        for i in range(150):
            ids.append(db.images.insert_one({"userId": owner, "prompt": f"burst {i}", "createdAt": now(),
                                             "updatedAt": now()}).inserted_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            heartbeat = legacy["state"].load_document("sync#images")
            if heartbeat and heartbeat["counts"].get("applied", 0) >= 20:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the sync applied nothing in 60 s: {process.stderr.read1().decode()[-2000:]}")
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to checkpoint
        process.wait()
    assert sync_once(legacy) == 0
    for image_id in ids:
        assert len(images_of(legacy, str(image_id))) == 1
    assert verified(legacy)


def test_a_stale_resume_token_says_to_rerun_the_full_load(legacy, capsys) -> None:
    load(legacy)
    legacy["state"].save_document("sync#images", {"resumeToken": {"_data": "00"}, "lagSeconds": 0,
                                                  "at": "2026-01-01T00:00:00.000Z"})
    assert sync.main([*legacy["args"], "--once", "--collections", "images"]) == 1
    err = capsys.readouterr().err
    assert "images: the change stream cannot resume from the recorded position" in err
    assert "python -m migration.run --collections images --restart" in err


def test_without_a_full_load_there_is_nowhere_to_start(legacy, capsys) -> None:
    assert sync_once(legacy) == 1
    assert "no full load is recorded" in capsys.readouterr().err


def test_a_new_full_load_restarts_the_sync_from_its_own_position(legacy) -> None:
    load(legacy)
    legacy["state"].save_document("sync#images", {"resumeToken": {"_data": "00"}, "lagSeconds": 0,
                                                  "at": "2026-01-01T00:00:00.000Z"})
    assert run.main([*legacy["args"], "--no-verify", "--restart", "--collections", "images"]) in (0, 1)
    assert legacy["state"].load_document("sync#images") is None
    assert sync_once(legacy) == 0


# --- transient failures are waited out; a lasting one ends the sync with the command to run again ---------------

class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any):
        yield self.data


def _dynamodb_fault(operation: str, failures: int | None, status: int, body: bytes):
    """A botocore hook on every client made from now on (the sync makes its own): `failures` answers of `status`
    to `operation` (None: all of them), then the real endpoint again."""
    import boto3
    from botocore.awsrequest import AWSResponse

    left = {"n": failures}

    def fault(request, **_: Any):
        if left["n"] is None or left["n"] > 0:
            left["n"] = None if left["n"] is None else left["n"] - 1
            return AWSResponse(request.url, status, {}, _Body(body))
        return None

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    event, unique_id = f"before-send.dynamodb.{operation}", f"sync-fault-{operation}"
    session.events.register(event, fault, unique_id=unique_id)
    return lambda: session.events.unregister(event, unique_id=unique_id)


THROTTLED = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}'
DOWN = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"down"}'


def test_a_throttle_and_a_5xx_from_dynamodb_are_waited_out(legacy, capsys) -> None:
    load(legacy)
    db = legacy["db"]
    user = db.users.find_one({"_id": {"$type": "objectId"}})
    db.users.update_one({"_id": user["_id"]}, {"$set": {"displayName": "through the storm", "updatedAt": now()}})
    remove_throttle = _dynamodb_fault("PutItem", 2, 400, THROTTLED)
    remove_down = _dynamodb_fault("GetItem", 1, 500, DOWN)  # the state table, read where the sync starts
    try:
        assert sync_once(legacy) == 0
    finally:
        remove_throttle()
        remove_down()
    assert user_item(legacy, str(user["_id"]))["displayName"]["S"] == "through the storm"
    out = capsys.readouterr().out
    # Both throttles were waited out (the 500 may have met the start-up check, which leaves it to the run).
    assert out.count("retrying in") >= 2 and "DynamoDB ThrottlingException" in out
    assert verified(legacy)


def test_a_failure_that_lasts_ends_the_sync_with_the_command_to_run_again(legacy, capsys) -> None:
    load(legacy)
    db = legacy["db"]
    user = db.users.find_one({"_id": {"$type": "objectId"}})
    db.users.update_one({"_id": user["_id"]}, {"$set": {"displayName": "never arrives", "updatedAt": now()}})
    remove = _dynamodb_fault("PutItem", None, 500, DOWN)
    try:
        assert sync.main([*legacy["args"], "--once", "--retry-for", "2"]) == 1
    finally:
        remove()
    err = capsys.readouterr().err
    assert "s: gave up after" in err and "run `python -m migration.sync` again" in err  # users or images
    assert "without progress (last: DynamoDB InternalServerError" in err
    assert sync_once(legacy) == 0  # the position was kept: the change arrives on the next run
    assert user_item(legacy, str(user["_id"]))["displayName"]["S"] == "never arrives"
