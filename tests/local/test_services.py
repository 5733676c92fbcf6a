"""The local services are the real thing: a MongoDB wire-protocol server and an AWS HTTP endpoint, started and
stopped cleanly, whatever way the process using them ends."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal

import pymongo
import pytest
import requests
from bson import Decimal128, Int64, ObjectId

from functions.shared.tables import IMAGES, TABLES, USERS, key_schema_problems
from local.aws import LocalAws, create_buckets, create_tables
from local.services import MotoServer, SecantusDB, ServiceError

from tests.conftest import ROOT


def _port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except OSError:
        return True


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes once it no longer runs.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# --- SecantusDB ------------------------------------------------------------------------------------------------

def test_mongodb_stores_and_queries_legacy_types(mongo_db: pymongo.database.Database) -> None:
    users = mongo_db.users
    users.insert_many([
        {"email": "a@example.com", "n": Int64(2**60), "credits": Decimal128("12.50"),
         "createdAt": dt.datetime(2021, 5, 1, 12, 0, 0, 123000), "avatarUrl": None, "tags": ["x", "y"]},
        {"email": "b@example.com", "n": 7, "createdAt": dt.datetime(2022, 1, 1)},
    ])
    found = users.find_one({"email": "a@example.com"})
    assert found is not None
    assert found["n"] == 2**60 and isinstance(found["n"], int)
    assert found["credits"].to_decimal() == Decimal("12.50")
    assert found["createdAt"] == dt.datetime(2021, 5, 1, 12, 0, 0, 123000)
    assert found["avatarUrl"] is None and found["tags"] == ["x", "y"]
    newest_first = [d["email"] for d in users.find({}, {"email": 1}).sort("createdAt", pymongo.DESCENDING)]
    assert newest_first == ["b@example.com", "a@example.com"]
    assert users.count_documents({"createdAt": {"$gte": dt.datetime(2021, 12, 31)}}) == 1


def test_mongodb_change_stream_sees_inserts_updates_and_deletes(mongo_db: pymongo.database.Database) -> None:
    images = mongo_db.images
    images.insert_one({"seed": True})  # the collection exists before the stream opens
    with images.watch(full_document="updateLookup") as stream:
        oid = images.insert_one({"prompt": "a cat"}).inserted_id
        images.update_one({"_id": oid}, {"$set": {"prompt": "a dragon"}})
        images.delete_one({"_id": oid})
        events = []
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            change = stream.try_next()
            if change is not None:
                events.append(change)
        token = stream.resume_token
    assert [e["operationType"] for e in events] == ["insert", "update", "delete"]
    assert all(e["documentKey"]["_id"] == oid for e in events)
    assert events[1]["updateDescription"]["updatedFields"] == {"prompt": "a dragon"}
    # A stream resumed from the last token sees only what came after it.
    with images.watch(resume_after=token) as resumed:
        images.insert_one({"prompt": "after"})
        later = None
        deadline = time.monotonic() + 10
        while later is None and time.monotonic() < deadline:
            later = resumed.try_next()
    assert later is not None and later["fullDocument"]["prompt"] == "after"


def test_mongodb_data_directory_survives_a_restart(tmp_path) -> None:
    with SecantusDB(storage_path=tmp_path / "data", log_dir=tmp_path) as server:
        port = server.port
        pymongo.MongoClient(server.uri).legacy.users.insert_one({"_id": ObjectId("5fee660094a616324d000000")})
    assert _port_closed(port)
    with SecantusDB(storage_path=tmp_path / "data", log_dir=tmp_path) as server:
        assert pymongo.MongoClient(server.uri).legacy.users.count_documents({}) == 1


def test_a_server_that_cannot_start_fails_with_its_log(tmp_path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("occupied")
    server = SecantusDB(storage_path=not_a_directory, log_dir=tmp_path)
    with pytest.raises(ServiceError, match="secantusdb"):
        server.start(timeout=20)
    assert not server.running


def test_stop_ends_the_server_and_frees_its_port(tmp_path) -> None:
    server = MotoServer(log_dir=tmp_path).start()
    port, pid = server.port, server.pid
    assert not _port_closed(port)
    server.stop()
    assert _port_closed(port)
    assert pid is not None and _eventually(lambda: _pid_gone(pid))
    server.stop()  # stopping twice is harmless


def test_an_exception_inside_the_block_still_stops_the_server(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with MotoServer(log_dir=tmp_path) as server:
            port = server.port
            raise RuntimeError("boom")
    assert _port_closed(port)


def test_servers_die_with_a_parent_killed_outright(tmp_path) -> None:
    """kill -9 of the process that started them leaves no orphan holding a port."""
    script = (
        "import json, sys, time\n"
        "from local.services import MotoServer, SecantusDB\n"
        "m = MotoServer().start(); s = SecantusDB().start()\n"
        "print(json.dumps({'pids': [m.pid, s.pid], 'ports': [m.port, s.port]}), flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        started = json.loads(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    # SIGTERM (PR_SET_PDEATHSIG) lets SecantusDB stop as it does: it joins its accept thread (2 s), drains its
    # connections (up to 5 s) and closes WiredTiger, ~2.1 s measured and slower on a loaded machine; moto exits at
    # once. Both are bounded, so a generous wait still proves no orphan is left.
    assert all(_eventually(lambda pid=pid: _pid_gone(pid), timeout=30.0) for pid in started["pids"])
    assert all(_eventually(lambda port=port: _port_closed(port)) for port in started["ports"])


def test_ctrl_c_in_the_demo_stops_both_servers(tmp_path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "local.demo", "--users", "20", "--images", "50000", "--media-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    ports = []
    for line in demo.stdout:
        ports.extend(int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", line))
        if line.startswith("seeding"):
            break
    demo.send_signal(signal.SIGINT)
    _, stderr = demo.communicate(timeout=30)
    assert demo.returncode == 130, stderr
    assert "interrupted; services stopped" in stderr
    assert len(ports) == 2 and all(_port_closed(port) for port in ports)


# --- moto server -------------------------------------------------------------------------------------------------

def test_tables_from_the_specs_read_and_write_over_http(local_aws: LocalAws) -> None:
    names = create_tables(local_aws)
    assert names == {spec.logical_name: f"mumble-test-{spec.logical_name}" for spec in TABLES.values()}
    assert {"users", "images", "migration-state", "jobs", "connections"} <= set(names)
    dynamodb = local_aws.client("dynamodb")
    for spec in (USERS, IMAGES):
        described = dynamodb.describe_table(TableName=names[spec.logical_name])["Table"]
        assert key_schema_problems(spec, described) == []
        assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    table = names["images"]
    for n, created in enumerate(["2021-01-01T00:00:00.000Z", "2023-06-01T10:00:00.000Z", "2022-03-04T05:06:07.890Z"]):
        dynamodb.put_item(TableName=table, Item={"imageId": {"S": f"img{n}"}, "createdAt": {"S": created},
                                                 "userId": {"S": "u1"}, "likes": {"N": str(n)}})
    dynamodb.put_item(TableName=table, Item={"imageId": {"S": "other"}, "createdAt": {"S": "2024-01-01T00:00:00.000Z"},
                                             "userId": {"S": "u2"}})
    gallery = dynamodb.query(TableName=table, IndexName="UserIndex", KeyConditionExpression="userId = :u",
                              ExpressionAttributeValues={":u": {"S": "u1"}}, ScanIndexForward=False)
    assert [item["imageId"]["S"] for item in gallery["Items"]] == ["img1", "img2", "img0"]
    got = dynamodb.get_item(TableName=table, Key={"imageId": {"S": "img2"}, "createdAt": {"S": "2022-03-04T05:06:07.890Z"}})
    assert got["Item"]["likes"] == {"N": "2"}

    # The endpoint is plain HTTP speaking the DynamoDB JSON protocol, not an in-process mock.
    raw = requests.post(local_aws.endpoint_url, data="{}", timeout=5, headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    assert raw.status_code == 200 and set(raw.json()["TableNames"]) == set(names.values())


def test_creating_tables_again_is_a_no_op_but_a_wrong_schema_is_refused(local_aws: LocalAws) -> None:
    create_tables(local_aws)
    assert set(create_tables(local_aws).values()) == {f"mumble-test-{name}" for name in TABLES}

    local_aws.client("dynamodb").create_table(
        TableName="mumble-wrong-users", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    with pytest.raises(RuntimeError, match=r"mumble-wrong-users does not match.*userId HASH"):
        create_tables(LocalAws(local_aws.endpoint_url, stage="wrong"), [USERS])


def test_buckets_are_private_encrypted_and_media_is_versioned(local_aws: LocalAws) -> None:
    names = create_buckets(local_aws)
    s3 = local_aws.client("s3")
    for name in names.values():
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=names["media"]).get("Status") == "Enabled"
    assert s3.get_bucket_versioning(Bucket=names["site"]).get("Status") is None
    s3.put_object(Bucket=names["media"], Key="images/u1/a.png", Body=b"png")
    assert s3.get_object(Bucket=names["media"], Key="images/u1/a.png")["Body"].read() == b"png"
