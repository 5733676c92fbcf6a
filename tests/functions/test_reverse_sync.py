"""reverseSync through the local runtime: the tables' streams (moto) -> the function -> the legacy MongoDB
(SecantusDB); and both syncs together, as during a cutover."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Callable, Iterator

import pymongo
import pytest
from bson import ObjectId

from functions.shared.aws import to_item
from functions.shared.versions import ORIGIN_AWS, ORIGIN_LEGACY, millis_timestamp, now_millis, stamp
from local.app import LocalApp, LocalAppOptions
from migration import run, sync, verify
from tests.functions.conftest import Client, new_client

STAGE = "rtest"


@pytest.fixture(scope="module")
def cutover_app(mongo_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApp]:
    uri = mongo_server.database_uri(f"{STAGE}_legacy")
    options = LocalAppOptions(stage=STAGE, legacy_mongo_uri=uri, log_dir=tmp_path_factory.mktemp("cutover"))
    with LocalApp(options) as local:
        yield local


@pytest.fixture
def legacy(cutover_app: LocalApp, mongo_server) -> Iterator[Any]:
    client = pymongo.MongoClient(mongo_server.uri)
    client.drop_database(f"{STAGE}_legacy")
    yield client[f"{STAGE}_legacy"]
    client.close()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def heartbeat(app: LocalApp, collection: str) -> dict[str, Any]:
    item = app.aws.client("dynamodb").get_item(TableName=app.tables["migration-state"],
                                               Key={"stateId": {"S": f"reverse#{collection}"}}).get("Item")
    return json.loads(item["state"]["S"]) if item else {}


def naive(millis: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def put_item(app: LocalApp, table: str, values: dict[str, Any]) -> None:
    app.aws.client("dynamodb").put_item(TableName=app.tables[table], Item=to_item(values))


def item(app: LocalApp, table: str, key: dict[str, str]) -> dict[str, Any]:
    return app.aws.client("dynamodb").get_item(TableName=app.tables[table],
                                               Key={k: {"S": v} for k, v in key.items()}).get("Item", {})


def migrated_user(app: LocalApp, legacy: Any, **fields: Any) -> ObjectId:
    """A legacy user as the full load leaves it: the document, and its item with origin legacy."""
    created = now_millis() - 86_400_000
    user_id = ObjectId()
    legacy.users.insert_one({"_id": user_id, "email": f"{user_id}@example.com", "passwordHash": "$2b$12$legacy",
                             "displayName": "legacy name", "createdAt": naive(created), "updatedAt": naive(created),
                             **fields})
    put_item(app, "users", {"userId": str(user_id), "email": f"{user_id}@example.com", "passwordHash": "$2b$12$legacy",
                            "displayName": "legacy name", "createdAt": millis_timestamp(created),
                            "updatedAt": millis_timestamp(created), "sourceVersion": created,
                            "origin": ORIGIN_LEGACY})
    return user_id


def test_a_profile_written_on_the_new_stack_reaches_mongodb(cutover_app, legacy) -> None:
    user_id = migrated_user(cutover_app, legacy)
    client = new_client(cutover_app, legacy_id=str(user_id))
    answer = client.put("/users/me", json={"displayName": "New Name"})
    assert answer.status_code == 200, answer.text
    doc = wait_for(lambda: legacy.users.find_one({"_id": user_id, "displayName": "New Name"}), "the profile")
    stored = item(cutover_app, "users", {"userId": str(user_id)})
    assert doc["origin"] == ORIGIN_AWS and doc["sourceVersion"] == int(stored["sourceVersion"]["N"])
    assert doc["updatedAt"] == naive(int(stored["sourceVersion"]["N"]))  # a BSON date, the legacy app's type
    assert doc["passwordHash"] == "$2b$12$legacy" and doc["email"] == f"{user_id}@example.com"


def test_the_legacy_password_hash_survives_its_removal_on_the_new_stack(cutover_app, legacy) -> None:
    user_id = migrated_user(cutover_app, legacy)
    values = stamp()  # what the user-migration trigger does after the first Cognito sign-in
    cutover_app.aws.client("dynamodb").update_item(
        TableName=cutover_app.tables["users"], Key={"userId": {"S": str(user_id)}},
        UpdateExpression="REMOVE passwordHash, displayName SET updatedAt = :u, sourceVersion = :v, origin = :o",
        ExpressionAttributeValues=to_item({":u": values["updatedAt"], ":v": values["sourceVersion"],
                                           ":o": ORIGIN_AWS}))
    doc = wait_for(lambda: legacy.users.find_one({"_id": user_id, "origin": ORIGIN_AWS}), "the update")
    assert doc["passwordHash"] == "$2b$12$legacy"  # legacy sign-in still works after a rollback
    assert "displayName" not in doc  # any other removed field is removed


def test_new_stack_images_are_inserted_and_deleted_in_mongodb(cutover_app, legacy) -> None:
    client: Client = new_client(cutover_app)
    image_id = ObjectId()
    created = now_millis()
    put_item(cutover_app, "images", {
        "imageId": str(image_id), "createdAt": millis_timestamp(created), "userId": client.user_id,
        "prompt": "made on the new stack", "imageKey": f"images/{client.user_id}/{image_id}.png", **stamp(created)})
    doc = wait_for(lambda: legacy.images.find_one({"_id": image_id}), "the image")
    assert doc["imageUrl"] == f"/uploads/images/{image_id}.png" and doc["createdAt"] == naive(created)
    assert client.delete(f"/images/{image_id}").status_code == 204
    wait_for(lambda: legacy.images.find_one({"_id": image_id}) is None, "the delete")


def test_the_forward_syncs_writes_are_echoes_and_an_older_item_loses(cutover_app, legacy) -> None:
    user_id = migrated_user(cutover_app, legacy)
    wait_for(lambda: heartbeat(cutover_app, "users").get("counts", {}).get("echo"), "the echo")
    newer_legacy = now_millis()
    legacy.users.update_one({"_id": user_id}, {"$set": {"displayName": "legacy wins", "updatedAt": naive(
        newer_legacy)}})
    before = heartbeat(cutover_app, "users")["counts"].get("conflict", 0)
    older = stamp(newer_legacy - 5000)
    cutover_app.aws.client("dynamodb").update_item(
        TableName=cutover_app.tables["users"], Key={"userId": {"S": str(user_id)}},
        UpdateExpression="SET displayName = :n, updatedAt = :u, sourceVersion = :v, origin = :o",
        ExpressionAttributeValues=to_item({":n": "older new-stack edit", ":u": older["updatedAt"],
                                           ":v": older["sourceVersion"], ":o": ORIGIN_AWS}))
    wait_for(lambda: heartbeat(cutover_app, "users")["counts"].get("conflict", 0) > before, "the conflict")
    assert legacy.users.find_one({"_id": user_id})["displayName"] == "legacy wins"
    assert any(c["id"] == str(user_id) for c in heartbeat(cutover_app, "users")["recentConflicts"])


def test_a_record_that_cannot_be_written_is_reported_alone_and_ends_in_the_failure_queue(cutover_app,
                                                                                        legacy) -> None:
    legacy.users.create_index("email", unique=True)
    legacy.users.insert_one({"_id": ObjectId(), "email": "taken@example.com"})
    clashing, fine = str(ObjectId()), str(ObjectId())
    for user_id, email in ((clashing, "taken@example.com"), (fine, "free@example.com")):
        put_item(cutover_app, "users", {"userId": user_id, "email": email, "createdAt": millis_timestamp(
            now_millis()), **stamp()})
    wait_for(lambda: legacy.users.find_one({"_id": ObjectId(fine)}), "the record after the failing one")
    failed = wait_for(lambda: [f for f in cutover_app.streams.failed
                               if any(r["dynamodb"]["Keys"]["userId"]["S"] == clashing for r in f.records)],
                      "the failure queue", timeout=30)
    assert "records reported failed" in failed[0].reason
    assert legacy.users.find_one({"_id": ObjectId(clashing)}) is None


def test_both_syncs_together_neither_loop_nor_lose_a_write(cutover_app, legacy, tmp_path, monkeypatch) -> None:
    """The full load and the forward sync (migration.*) with reverseSync running, against the same stores."""
    for name, value in cutover_app.aws.environment().items():
        monkeypatch.setenv(name, value)
    dynamodb = cutover_app.aws.client("dynamodb")
    for page in dynamodb.get_paginator("scan").paginate(TableName=cutover_app.tables["users"]):
        for stale in page["Items"]:  # other tests' users: this one verifies the whole collection
            dynamodb.delete_item(TableName=cutover_app.tables["users"], Key={"userId": stale["userId"]})
    user_id = ObjectId()
    old = now_millis() - 3_600_000
    legacy.users.insert_one({"_id": user_id, "email": "both@example.com", "displayName": "v1",
                             "createdAt": naive(old), "updatedAt": naive(old)})
    args = ["--mongo-uri", cutover_app.options.legacy_mongo_uri, "--mongo-db", f"{STAGE}_legacy",
            "--endpoint-url", cutover_app.aws.endpoint_url, "--stage", STAGE, "--collections", "users",
            "--dead-letter", str(tmp_path / "dead.jsonl")]
    assert run.main([*args, "--no-verify"]) == 0
    key = {"userId": str(user_id)}

    # A write on the new stack goes back to MongoDB; the forward sync sees it as its echo.
    client = new_client(cutover_app, legacy_id=str(user_id))
    assert client.put("/users/me", json={"displayName": "v2 new stack"}).status_code == 200
    wait_for(lambda: legacy.users.find_one({"_id": user_id, "displayName": "v2 new stack"}), "v2 in MongoDB")
    assert sync.main([*args, "--once"]) == 0
    assert item(cutover_app, "users", key)["displayName"] == {"S": "v2 new stack"}
    assert item(cutover_app, "users", key)["origin"] == {"S": ORIGIN_AWS}

    # A newer write on the legacy side goes to DynamoDB; the reverse sync sees it as its echo: no loop.
    legacy.users.update_one({"_id": user_id}, {"$set": {"displayName": "v3 legacy", "updatedAt": naive(
        now_millis())}})
    before = legacy.users.find_one({"_id": user_id})
    echoes = heartbeat(cutover_app, "users")["counts"].get("echo", 0)
    assert sync.main([*args, "--once"]) == 0
    assert item(cutover_app, "users", key)["displayName"] == {"S": "v3 legacy"}
    wait_for(lambda: heartbeat(cutover_app, "users")["counts"].get("echo", 0) > echoes, "the reverse echo")
    assert legacy.users.find_one({"_id": user_id}) == before  # nothing was written back

    # Both sides change the same user between syncs: the newer write wins on both.
    legacy.users.update_one({"_id": user_id}, {"$set": {"displayName": "v4 legacy, older", "updatedAt": naive(
        now_millis())}})
    time.sleep(0.01)
    assert client.put("/users/me", json={"displayName": "v5 new stack, newer"}).status_code == 200
    assert sync.main([*args, "--once"]) == 0
    wait_for(lambda: legacy.users.find_one({"_id": user_id, "displayName": "v5 new stack, newer"}),
             "the newer write in MongoDB")
    assert sync.main([*args, "--once"]) == 0
    assert item(cutover_app, "users", key)["displayName"] == {"S": "v5 new stack, newer"}
    # And the verification (the cutover gate's) sees both sides agree, the new stack's item included.
    assert verify.main(args[:-2]) == 0


# --- the cutover's data safety: deletes carry versions, every type round-trips, moves are not deletes -----------

def _loaded(app: LocalApp, legacy: Any, collection: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A legacy document as the full load leaves it: inserted in MongoDB, its item made by the load's own mapper."""
    from migration.collections import mappers

    getattr(legacy, collection).insert_one(doc)
    converted = mappers(None)[collection].convert(doc)
    app.aws.client("dynamodb").put_item(TableName=app.tables[collection], Item=converted.item)
    return converted.item


def _empty(app: LocalApp, collection: str) -> None:
    """Other tests' items out of the table, so a verification covers this test's alone."""
    dynamodb = app.aws.client("dynamodb")
    keys = ["userId"] if collection == "users" else ["imageId", "createdAt"]
    for page in dynamodb.get_paginator("scan").paginate(TableName=app.tables[collection]):
        for stale in page["Items"]:
            dynamodb.delete_item(TableName=app.tables[collection], Key={k: stale[k] for k in keys})


def _idle(app: LocalApp) -> None:
    assert app.streams is not None and app.streams.idle(30)


def test_deleting_a_migrated_image_on_the_new_stack_deletes_it_in_mongodb(cutover_app, legacy) -> None:
    owner = ObjectId()
    client = new_client(cutover_app, legacy_id=str(owner))
    image_id = ObjectId()
    created = naive(now_millis() - 86_400_000)
    _loaded(cutover_app, legacy, "images", {"_id": image_id, "userId": owner, "prompt": "migrated",
                                            "imageUrl": f"/uploads/images/{image_id}.png", "createdAt": created,
                                            "updatedAt": created})
    _idle(cutover_app)
    assert legacy.images.find_one({"_id": image_id}) is not None
    assert client.delete(f"/images/{image_id}").status_code == 204
    wait_for(lambda: legacy.images.find_one({"_id": image_id}) is None, "the migrated image's delete")
    assert heartbeat(cutover_app, "images")["counts"].get("deleted")


def test_binary_and_every_other_type_round_trip_into_the_bson_types_mongodb_had(cutover_app, legacy) -> None:
    from bson import Binary, Decimal128, Int64, Regex

    user_id = ObjectId()
    created = naive(now_millis() - 86_400_000)
    doc = {"_id": user_id, "email": f"{user_id}@example.com", "passwordHash": "$2b$12$legacy",
           "displayName": "typed", "createdAt": created, "updatedAt": created,
           "avatarThumb": Binary(bytes(range(64))), "externalId": Binary(bytes(range(16)), 4),
           "credit": Decimal128("12.50"), "visits": Int64(2 ** 40), "ratio": float("nan"), "referrer": ObjectId(),
           "pattern": Regex("^a.*", "i"), "seenAt": created, "nested": {"blob": Binary(b"\x00\xff", 0),
                                                                       "uuids": [Binary(bytes(16), 4)]}}
    _loaded(cutover_app, legacy, "users", doc)
    _idle(cutover_app)
    client = new_client(cutover_app, legacy_id=str(user_id))
    assert client.put("/users/me", json={"displayName": "typed, edited"}).status_code == 200
    after = wait_for(lambda: legacy.users.find_one({"_id": user_id, "displayName": "typed, edited"}), "the edit")
    assert after["avatarThumb"] == bytes(range(64))  # subtype 0 decodes as bytes, as before
    assert after["externalId"] == Binary(bytes(range(16)), 4)
    # Decimal128 again, the same value (DynamoDB keeps numbers, not their trailing zeros).
    assert isinstance(after["credit"], Decimal128) and after["credit"].to_decimal() == Decimal128("12.50").to_decimal()
    assert after["visits"] == 2 ** 40
    assert isinstance(after["visits"], int) and after["ratio"] != after["ratio"]  # NaN is a float NaN again
    assert after["referrer"] == doc["referrer"] and after["pattern"].pattern == "^a.*"
    assert after["seenAt"] == created and after["nested"] == {"blob": b"\x00\xff", "uuids": [Binary(bytes(16), 4)]}
    assert not [f for f in cutover_app.streams.failed if any(
        r["dynamodb"]["Keys"].get("userId", {}).get("S") == str(user_id) for r in f.records)]


def test_a_legacy_createdat_correction_keeps_an_image_last_written_on_the_new_stack(cutover_app, legacy,
                                                                                   tmp_path, monkeypatch) -> None:
    for name, value in cutover_app.aws.environment().items():
        monkeypatch.setenv(name, value)
    owner = ObjectId()
    args = ["--mongo-uri", cutover_app.options.legacy_mongo_uri, "--mongo-db", f"{STAGE}_legacy",
            "--endpoint-url", cutover_app.aws.endpoint_url, "--stage", STAGE, "--collections", "images",
            "--dead-letter", str(tmp_path / "dead.jsonl")]
    legacy.images.insert_one({"_id": ObjectId(), "userId": owner, "createdAt": naive(now_millis()),
                              "prompt": "so the load records a position"})
    assert run.main([*args, "--no-verify", "--restart"]) == 0  # this test's own load
    image_id = ObjectId()
    written = now_millis() - 60_000
    put_item(cutover_app, "images", {"imageId": str(image_id), "createdAt": millis_timestamp(written),
                                     "userId": str(owner), "prompt": "made on the new stack", **stamp(written)})
    wait_for(lambda: legacy.images.find_one({"_id": image_id}), "the image in MongoDB")
    corrected = naive(written - 86_400_000)
    legacy.images.update_one({"_id": image_id}, {"$set": {"createdAt": corrected, "updatedAt": naive(now_millis())}})
    assert sync.main([*args, "--once"]) == 0
    _idle(cutover_app)
    doc = legacy.images.find_one({"_id": image_id})
    assert doc is not None and doc["createdAt"] == corrected  # the move's REMOVE was not taken for a delete
    keys = [i["createdAt"]["S"] for i in cutover_app.aws.client("dynamodb").query(
        TableName=cutover_app.tables["images"], KeyConditionExpression="imageId = :i",
        ExpressionAttributeValues={":i": {"S": str(image_id)}})["Items"]]
    assert keys == [millis_timestamp(written - 86_400_000)]
    assert heartbeat(cutover_app, "images")["counts"].get("not-a-delete")


def test_an_older_write_cannot_bring_back_what_a_newer_delete_removed_either_way(cutover_app, legacy, tmp_path,
                                                                                monkeypatch) -> None:
    for name, value in cutover_app.aws.environment().items():
        monkeypatch.setenv(name, value)
    args = ["--mongo-uri", cutover_app.options.legacy_mongo_uri, "--mongo-db", f"{STAGE}_legacy",
            "--endpoint-url", cutover_app.aws.endpoint_url, "--stage", STAGE, "--collections", "images",
            "--dead-letter", str(tmp_path / "dead.jsonl")]
    _idle(cutover_app)
    _empty(cutover_app, "images")
    owner = ObjectId()
    client = new_client(cutover_app, legacy_id=str(owner))
    old = naive(now_millis() - 3_600_000)
    ids = [ObjectId() for _ in range(2)]
    legacy.images.insert_many([{"_id": i, "userId": owner, "prompt": "race", "createdAt": old, "updatedAt": old}
                               for i in ids])
    assert run.main([*args, "--no-verify", "--restart"]) == 0  # this test's own load
    legacy_deleted, new_deleted = ids

    # A legacy delete, then a new-stack write that is older than it (it raced the delete) reaches MongoDB first.
    legacy.images.delete_one({"_id": legacy_deleted})
    stale = stamp(now_millis() - 1_000)
    cutover_app.aws.client("dynamodb").update_item(
        TableName=cutover_app.tables["images"], Key={"imageId": {"S": str(legacy_deleted)},
                                                     "createdAt": {"S": millis_timestamp(
                                                         int(old.replace(tzinfo=dt.timezone.utc).timestamp() *
                                                             1000))}},
        UpdateExpression="SET prompt = :p, updatedAt = :u, sourceVersion = :v, origin = :o",
        ExpressionAttributeValues=to_item({":p": "older edit", ":u": stale["updatedAt"],
                                           ":v": stale["sourceVersion"], ":o": ORIGIN_AWS}))
    # A new-stack delete, with a legacy edit older than it that the forward sync sees only afterwards.
    legacy.images.update_one({"_id": new_deleted}, {"$set": {"prompt": "older legacy edit",
                                                             "updatedAt": naive(now_millis() - 1_000)}})
    assert client.delete(f"/images/{new_deleted}").status_code == 204
    for _ in range(3):  # drain both directions: each pass may hand the other side something
        _idle(cutover_app)
        assert sync.main([*args, "--once"]) == 0
    _idle(cutover_app)
    for image_id in ids:
        assert legacy.images.find_one({"_id": image_id}) is None, image_id
        assert not cutover_app.aws.client("dynamodb").query(
            TableName=cutover_app.tables["images"], KeyConditionExpression="imageId = :i",
            ExpressionAttributeValues={":i": {"S": str(image_id)}})["Items"], image_id
    assert verify.main(args[:-2]) == 0
