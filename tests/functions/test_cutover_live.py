"""Both stacks live at once, as during a cutover: after the full load, random inserts, updates, deletes and sort-key
changes on both sides at the same time (same-millisecond conflicts and deletes racing writes included), the forward
sync killed with SIGKILL and restarted once, the reverse sync fed by the stream pump. Once everything has drained,
`migration.verify` must pass and a field-by-field comparison of its own must find no divergent item."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pymongo
import pytest
from bson import ObjectId

from functions.shared.aws import to_item
from functions.shared.versions import millis_timestamp, now_millis, stamp
from local.app import LocalApp, LocalAppOptions
from migration import run, sync, verify
from tests.conftest import ROOT
from tests.functions.conftest import Client, new_client

pytestmark = pytest.mark.slow
STAGE = "live"
USERS, IMAGES = 8, 40
SECONDS = float(os.environ.get("CUTOVER_LIVE_SECONDS", "16"))
MIN_CHANGES = 50  # per side, for the run to mean something


@pytest.fixture(scope="module")
def both(mongo_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalApp, Any]]:
    uri = mongo_server.database_uri(f"{STAGE}_legacy")
    with LocalApp(LocalAppOptions(stage=STAGE, legacy_mongo_uri=uri,
                                  log_dir=tmp_path_factory.mktemp("live"))) as app:
        client = pymongo.MongoClient(mongo_server.uri)
        yield app, client[f"{STAGE}_legacy"]
        client.close()


def naive(millis: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def seed(db: Any) -> list[ObjectId]:
    rng = random.Random(7)
    start = now_millis() - 30 * 86_400_000
    users = [ObjectId() for _ in range(USERS)]
    db.users.insert_many([{"_id": u, "email": f"{u}@example.com", "displayName": f"user {n}",
                           "createdAt": naive(start), "updatedAt": naive(start)} for n, u in enumerate(users)])
    db.images.insert_many([{"_id": ObjectId(), "userId": rng.choice(users), "prompt": f"image {n}",
                            "createdAt": naive(start + n * 1000), "updatedAt": naive(start + n * 1000)}
                           for n in range(IMAGES)])
    return users


class Workload:
    """Random changes on one side until `stop`; both sides pick from the same ids, so they collide."""

    def __init__(self, app: LocalApp, db: Any, users: list[ObjectId], clients: dict[ObjectId, Client],
                 stop: threading.Event, seed_: int) -> None:
        self.app, self.db, self.users, self.clients, self.stop = app, db, users, clients, stop
        self.rng = random.Random(seed_)
        self.dynamodb = app.aws.client("dynamodb")
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def image_ids(self) -> list[ObjectId]:
        return [d["_id"] for d in self.db.images.find({}, {"_id": 1})]

    def legacy(self) -> None:
        while not self.stop.is_set():
            op, ids = self.rng.random(), self.image_ids()
            now = naive(now_millis())
            if op < 0.25:
                self.db.users.update_one({"_id": self.rng.choice(self.users)},
                                         {"$set": {"displayName": f"legacy {self.rng.random():.6f}", "updatedAt": now}})
                self._count("legacy user update")
            elif op < 0.45:
                self.db.images.insert_one({"_id": ObjectId(), "userId": self.rng.choice(self.users),
                                           "prompt": "legacy insert", "createdAt": now, "updatedAt": now})
                self._count("legacy image insert")
            elif op < 0.65 and ids:
                self.db.images.update_one({"_id": self.rng.choice(ids)},
                                          {"$set": {"prompt": f"legacy {self.rng.random():.6f}", "updatedAt": now}})
                self._count("legacy image update")
            elif op < 0.8 and ids:
                self.db.images.delete_one({"_id": self.rng.choice(ids)})
                self._count("legacy image delete")
            elif ids:  # a corrected createdAt: the item moves to another sort key
                doc = self.db.images.find_one({"_id": self.rng.choice(ids)})
                if doc and isinstance(doc.get("createdAt"), dt.datetime):
                    self.db.images.update_one({"_id": doc["_id"]}, {"$set": {
                        "createdAt": doc["createdAt"] - dt.timedelta(days=self.rng.randint(1, 9)), "updatedAt": now}})
                    self._count("legacy createdAt change")
            time.sleep(self.rng.uniform(0.005, 0.03))

    def new_stack(self) -> None:
        table = self.app.tables["images"]
        while not self.stop.is_set():
            op = self.rng.random()
            try:
                if op < 0.25:
                    user = self.rng.choice(self.users)
                    answer = self.clients[user].put("/users/me", json={"displayName": f"new {self.rng.random():.6f}"})
                    assert answer.status_code == 200, answer.text
                    self._count("new user update")
                elif op < 0.4:
                    item = self._item()
                    if item:
                        owner = ObjectId(item["userId"]["S"]) if "userId" in item else None
                        if owner in self.clients:
                            answer = self.clients[owner].delete(f"/images/{item['imageId']['S']}")
                            assert answer.status_code in (204, 404), answer.text
                            self._count("new image delete")
                elif op < 0.6:
                    image_id, millis = ObjectId(), now_millis()
                    self.dynamodb.put_item(TableName=table, Item=to_item({
                        "imageId": str(image_id), "createdAt": millis_timestamp(millis),
                        "userId": str(self.rng.choice(self.users)), "prompt": "new stack insert", **stamp(millis)}))
                    self._count("new image insert")
                elif op < 0.85:
                    item = self._item()
                    if item:  # as the API's functions write: stamped, only if the item is still there
                        values = {"prompt": f"new {self.rng.random():.6f}", **stamp()}
                        try:
                            self.dynamodb.update_item(
                                TableName=table, Key={"imageId": item["imageId"], "createdAt": item["createdAt"]},
                                UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in range(len(values))),
                                ConditionExpression="attribute_exists(imageId)",
                                ExpressionAttributeNames={f"#{n}": k for n, k in enumerate(values)},
                                ExpressionAttributeValues=to_item({f":{n}": v for n, v in enumerate(values.values())}))
                            self._count("new image update")
                        except self.dynamodb.exceptions.ConditionalCheckFailedException:
                            pass
                else:  # the same user changed on both sides in the same millisecond
                    user, millis = self.rng.choice(self.users), now_millis()
                    self.db.users.update_one({"_id": user}, {"$set": {"displayName": f"tie legacy {millis}",
                                                                      "updatedAt": naive(millis)}})
                    values = {"displayName": f"tie new {millis}", **stamp(millis)}
                    self.dynamodb.update_item(
                        TableName=self.app.tables["users"], Key={"userId": {"S": str(user)}},
                        UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in range(len(values))),
                        ExpressionAttributeNames={f"#{n}": k for n, k in enumerate(values)},
                        ExpressionAttributeValues=to_item({f":{n}": v for n, v in enumerate(values.values())}))
                    self._count("same-millisecond conflict")
            except Exception as error:  # noqa: BLE001 - collected, the test fails on them
                self.errors.append(repr(error))
            time.sleep(self.rng.uniform(0.005, 0.03))

    def _item(self) -> dict[str, Any] | None:
        page = self.dynamodb.scan(TableName=self.app.tables["images"], Limit=50)["Items"]
        return self.rng.choice(page) if page else None


def _forward_sync(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "migration.sync", *args, "--report-every", "2"], cwd=ROOT,
                            env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)


def _items(app: LocalApp, collection: str) -> dict[str, dict[str, Any]]:
    key = "userId" if collection == "users" else "imageId"
    found: dict[str, dict[str, Any]] = {}
    for page in app.aws.client("dynamodb").get_paginator("scan").paginate(TableName=app.tables[collection],
                                                                        ConsistentRead=True):
        for item in page["Items"]:
            assert item[key]["S"] not in found, f"two items for {collection} {item[key]['S']}"
            found[item[key]["S"]] = item
    return found


def divergent(app: LocalApp, db: Any) -> list[str]:
    """Field by field, by hand: every document has its item and every item its document, with the same values."""
    problems = []
    for collection, fields in (("users", ("displayName", "email")), ("images", ("prompt", "userId", "createdAt"))):
        items = _items(app, collection)
        docs = {str(d["_id"]): d for d in getattr(db, collection).find()}
        problems += [f"{collection} {i}: only in DynamoDB" for i in sorted(set(items) - set(docs))]
        problems += [f"{collection} {i}: only in MongoDB" for i in sorted(set(docs) - set(items))]
        for key in sorted(set(items) & set(docs)):
            item, doc = items[key], docs[key]
            for name in fields:
                value = doc.get(name)
                if isinstance(value, dt.datetime):
                    value = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
                elif isinstance(value, ObjectId):
                    value = str(value)
                if item.get(name, {}).get("S") != value:
                    problems.append(f"{collection} {key}.{name}: DynamoDB {item.get(name)} vs MongoDB {value!r}")
    return problems


def explain(app: LocalApp, db: Any, problems: list[str]) -> str:
    """The first divergent items with their versions, tombstones and documents, for whoever reads a failure."""
    dynamodb, lines = app.aws.client("dynamodb"), []
    for problem in problems[:8]:
        collection, key = problem.split()[0], problem.split()[1].split(".")[0].rstrip(":")
        item = _items(app, collection).get(key) or {}
        tombstone = dynamodb.get_item(TableName=app.tables["migration-state"],
                                      Key={"stateId": {"S": f"tombstone#{collection}#{key}"}}).get("Item")
        lines.append(f"{problem}\n  item {({k: v for k, v in item.items() if k in ('origin', 'sourceVersion')})}"
                     f"\n  tombstone {tombstone}\n  document {getattr(db, collection).find_one({'_id': ObjectId(key)})}")
    return "\n".join(lines)


def test_both_stacks_live_converge_after_a_kill_and_verify_passes(both, tmp_path: Path, monkeypatch) -> None:
    app, db = both
    users = seed(db)
    args = ["--mongo-uri", app.options.legacy_mongo_uri, "--mongo-db", f"{STAGE}_legacy",
            "--endpoint-url", app.aws.endpoint_url, "--stage", STAGE, "--dead-letter", str(tmp_path / "dead.jsonl")]
    env = {**os.environ, **app.aws.environment()}
    for name, value in app.aws.environment().items():
        monkeypatch.setenv(name, value)
    assert run.main([*args, "--no-verify", "--restart"]) == 0
    clients = {user: new_client(app, legacy_id=str(user)) for user in users}
    log = tmp_path / "sync.log"
    forward = _forward_sync(args, env, log)
    stop = threading.Event()
    legacy, new = Workload(app, db, users, clients, stop, 1), Workload(app, db, users, clients, stop, 2)
    threads = [threading.Thread(target=legacy.legacy), threading.Thread(target=new.new_stack)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(SECONDS / 2)
        forward.send_signal(signal.SIGKILL)  # mid-stream, mid-batch maybe: it resumes from its checkpoint
        forward.wait()
        forward = _forward_sync(args, env, log)
        time.sleep(SECONDS / 2)
        # a loaded machine (CI on 2 cores) makes fewer changes in the time: go on, within bounds, until both sides
        # made enough for the test to mean something (the property is convergence, not throughput)
        deadline = time.monotonic() + 3 * SECONDS
        while min(sum(legacy.counts.values()), sum(new.counts.values())) <= MIN_CHANGES \
                and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        forward.send_signal(signal.SIGTERM)
        assert forward.wait(timeout=60) == 0, log.read_text()[-2000:]
    assert not legacy.errors and not new.errors, (legacy.errors + new.errors)[:5]
    for _ in range(4):  # drain: each side may still hand the other a change
        assert app.streams is not None and app.streams.idle(60)
        assert sync.main([*args, "--once"]) == 0
    assert app.streams.idle(60)
    assert not app.streams.failed, [f.reason for f in app.streams.failed]
    problems = divergent(app, db)
    print("workload:", legacy.counts, new.counts, "divergent:", len(problems))
    assert problems == [], explain(app, db, problems)
    assert verify.main(args[:-2]) == 0
    assert sum(legacy.counts.values()) > MIN_CHANGES and sum(new.counts.values()) > MIN_CHANGES
