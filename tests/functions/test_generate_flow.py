"""The image job end to end through the local runtime: upload -> job -> worker -> S3 -> thumbnail -> WebSocket,
and what happens when OpenAI misbehaves, when requests are replayed, and when S3 redelivers an event."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from PIL import Image
from websockets.sync.client import connect

from local.app import LocalApp
from tests.functions.conftest import Client

IMAGES_PATH = "/v1/images/generations"


def _socket(app: LocalApp, client: Client) -> Any:
    return connect(f"{app.websocket.url}/?token={client.tokens['IdToken']}", open_timeout=10)


def _job_messages(socket: Any, job_id: str, timeout: float = 30.0) -> list[dict]:
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if message.get("jobId") == job_id:
            messages.append(message)
            if message["status"] in ("succeeded", "failed"):
                return messages
    raise AssertionError(f"no final message for job {job_id}: {messages}")


def _wait_job(client: Client, job_id: str) -> dict:
    client.app.settle()
    return client.get(f"/jobs/{job_id}").json()


def test_generate_end_to_end(app: LocalApp, alice: Client) -> None:
    key = alice.upload_audio("a red fox reading a newspaper")
    with _socket(app, alice) as socket:
        accepted = alice.post("/generate", headers={"Idempotency-Key": "e2e-job-0001"},
                              json={"audioKey": key, "location": {"lat": 52.52, "lon": 13.40}, "style": "watercolor"})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["jobId"]
        final = _job_messages(socket, job_id)[-1]
    assert final["status"] == "succeeded"
    assert set(final) >= {"jobId", "status", "imageId", "keys"} and "b64_json" not in json.dumps(final)
    image_key = final["keys"]["imageKey"]
    assert image_key == f"images/{alice.user_id}/{final['imageId']}.png"
    s3 = app.aws.client("s3")
    png = s3.get_object(Bucket=app.buckets["media"], Key=image_key)["Body"].read()
    assert png.startswith(b"\x89PNG")

    app.settle()  # the S3 event -> imageProcessor
    image = alice.get(f"/images/{final['imageId']}").json()
    assert image["transcription"] == "a red fox reading a newspaper"
    assert "watercolour" in image["prompt"] and image["weather"]["description"] in image["prompt"]
    assert image["width"] == 1024 and image["format"] == "png" and image["thumbnailUrl"]
    thumbnail = s3.get_object(Bucket=app.buckets["media"], Key=f"thumbnails/{alice.user_id}/{final['imageId']}.jpg")
    assert thumbnail["ContentType"] == "image/jpeg"
    assert alice.get(f"/jobs/{job_id}").json()["status"] == "succeeded"
    assert [i["imageId"] for i in alice.get("/images").json()["items"]] == [final["imageId"]]


def test_generate_is_idempotent_on_the_key(app: LocalApp, alice: Client) -> None:
    body = {"text": "two identical requests"}
    first = alice.post("/generate", headers={"Idempotency-Key": "replay-key-0001"}, json=body)
    second = alice.post("/generate", headers={"Idempotency-Key": "replay-key-0001"}, json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["jobId"] == second.json()["jobId"]
    reused = alice.post("/generate", headers={"Idempotency-Key": "replay-key-0001"}, json={"text": "something else"})
    assert reused.status_code == 422 and reused.json()["error"] == "IdempotencyKeyReused"
    _wait_job(alice, first.json()["jobId"])
    assert len(alice.get("/images").json()["items"]) == 1  # one job, one worker, one image


def test_idempotency_keys_are_per_user(alice: Client, bob: Client) -> None:
    a = alice.post("/generate", headers={"Idempotency-Key": "shared-key-0001"}, json={"text": "mine"})
    b = bob.post("/generate", headers={"Idempotency-Key": "shared-key-0001"}, json={"text": "mine"})
    assert a.status_code == b.status_code == 202 and a.json()["jobId"] != b.json()["jobId"]


def _jobs_of(app: LocalApp, user_id: str) -> int:
    items = app.aws.client("dynamodb").scan(TableName=app.tables["jobs"])["Items"]
    return sum(1 for item in items if item["userId"]["S"] == user_id)


@pytest.mark.parametrize("body,field", [
    ({"text": "x", "audioKey": "audio/x/y.webm"}, None),
    ({}, None),
    ({"text": "x", "style": "cubism"}, "style"),
    ({"text": "x", "location": {"lat": 0}}, "location"),
    ({"text": "   "}, "text"),
])
def test_generate_rejects_bad_requests_and_writes_nothing(app: LocalApp, alice: Client, body: dict,
                                                          field: str | None) -> None:
    answer = alice.post("/generate", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "ValidationError"
    if field:
        assert answer.json()["field"].startswith(field)
    assert _jobs_of(app, alice.user_id) == 0


def test_generate_refuses_another_users_or_missing_audio(app: LocalApp, alice: Client, bob: Client) -> None:
    key = alice.upload_audio("private words")
    stolen = bob.post("/generate", json={"audioKey": key})
    assert stolen.status_code == 400 and stolen.json()["field"] == "audioKey"
    missing = alice.post("/generate", json={"audioKey": f"audio/{alice.user_id}/never-uploaded.webm"})
    assert missing.status_code == 400 and missing.json()["field"] == "audioKey"
    bad_key = alice.post("/generate", headers={"Idempotency-Key": "short"}, json={"text": "x"})
    assert bad_key.status_code == 400 and bad_key.json()["field"] == "Idempotency-Key"
    assert _jobs_of(app, alice.user_id) == 0 and _jobs_of(app, bob.user_id) == 0


def test_openai_429_then_success(app: LocalApp, alice: Client) -> None:
    app.openai.fail(IMAGES_PATH, 429, times=1)
    job = alice.post("/generate", json={"text": "patience"}).json()
    assert _wait_job(alice, job["jobId"])["status"] == "succeeded"
    assert app.openai.requests[IMAGES_PATH] == 2


def test_openai_persistent_500_fails_the_job_with_a_reason(app: LocalApp, alice: Client) -> None:
    app.openai.fail(IMAGES_PATH, 500, times=10)
    with _socket(app, alice) as socket:
        job = alice.post("/generate", json={"text": "doomed"}).json()
        final = _job_messages(socket, job["jobId"])[-1]
    assert final["status"] == "failed" and "answered 500" in final["error"]
    assert app.openai.requests[IMAGES_PATH] == 3  # first try and two retries, then it stopped
    assert alice.get("/images").json()["items"] == []


def test_openai_timeouts_end_the_job_before_the_function_does(app: LocalApp, alice: Client) -> None:
    app.openai.delay(IMAGES_PATH, 8.0, times=5)
    started = time.monotonic()
    job = alice.post("/generate", json={"text": "slow"}).json()
    state = _wait_job(alice, job["jobId"])
    assert state["status"] == "failed" and "timed out" in state["error"]
    assert time.monotonic() - started < 12.0 + 5  # within the worker's (test) timeout, not killed by it
    assert app.runtime.dead_letters == [] or all(d.function != "generateImageWorker"
                                                 for d in app.runtime.dead_letters)


def test_an_s3_event_delivered_twice_is_processed_once(app: LocalApp, alice: Client) -> None:
    job = alice.post("/generate", json={"text": "twice"}).json()
    state = _wait_job(alice, job["jobId"])
    key = state["keys"]["imageKey"]
    s3 = app.aws.client("s3")
    head = s3.head_object(Bucket=app.buckets["media"], Key=key)
    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                          "eventName": "ObjectCreated:Put", "eventTime": "2026-01-01T00:00:00.000Z",
                          "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": app.buckets["media"],
                                                                      "arn": f"arn:aws:s3:::{app.buckets['media']}"},
                                 "object": {"key": key, "size": head["ContentLength"],
                                            "eTag": head["ETag"].strip('"')}}}]}
    thumb = f"thumbnails/{alice.user_id}/{state['imageId']}.jpg"
    versions = len(s3.list_object_versions(Bucket=app.buckets["media"], Prefix=thumb)["Versions"])
    again = app.runtime.invoke("imageProcessor", event)
    assert again.ok and again.result == {"duplicate": 1}
    assert len(s3.list_object_versions(Bucket=app.buckets["media"], Prefix=thumb)["Versions"]) == versions


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _image_item(app: LocalApp, user_id: str, image_id: str, key: str) -> None:
    app.aws.client("dynamodb").put_item(TableName=app.tables["images"], Item={
        "imageId": {"S": image_id}, "createdAt": {"S": "2026-01-01T00:00:00.000Z"}, "userId": {"S": user_id},
        "prompt": {"S": "early"}, "imageKey": {"S": key}, "isPublic": {"BOOL": False}, "sourceVersion": {"N": "1"}})


def test_an_image_whose_event_arrives_before_its_item_is_processed_on_the_retry(app: LocalApp,
                                                                              alice: Client) -> None:
    image_id = f"early{alice.user_id[:8]}"
    key = f"images/{alice.user_id}/{image_id}.png"
    before = len(app.runtime.dead_letters)
    app.aws.client("s3").put_object(Bucket=app.buckets["media"], Key=key, Body=_png(), ContentType="image/png",
                                    Metadata={"image-id": image_id})
    time.sleep(2.5)  # later than the first delivery looks (ITEM_WAITS_S, 1.5 s): the retry is what finds the item
    _image_item(app, alice.user_id, image_id, key)
    app.settle()
    image = alice.get(f"/images/{image_id}").json()
    assert image["width"] == 640 and image["height"] == 480 and image["thumbnailUrl"]
    assert app.runtime.dead_letters[before:] == []


def test_an_image_whose_item_never_comes_ends_at_the_on_failure_destination(app: LocalApp, alice: Client) -> None:
    image_id = f"orphan{alice.user_id[:8]}"
    key = f"images/{alice.user_id}/{image_id}.png"
    before = len(app.runtime.dead_letters)
    app.aws.client("s3").put_object(Bucket=app.buckets["media"], Key=key, Body=_png(), ContentType="image/png",
                                    Metadata={"image-id": image_id})
    app.settle()
    letters = app.runtime.dead_letters[before:]
    assert [(letter.function, letter.attempts) for letter in letters] == [("imageProcessor", 3)]
    assert letters[0].error is not None and "ItemNotWrittenYet" in letters[0].error["errorType"]
    assert image_id in letters[0].error["errorMessage"]


def test_replaying_a_finished_jobs_worker_event_changes_nothing(app: LocalApp, alice: Client) -> None:
    job = alice.post("/generate", json={"text": "once"}).json()
    before = _wait_job(alice, job["jobId"])
    replay = app.runtime.invoke("generateImageWorker", {"jobId": job["jobId"]})
    assert replay.ok and replay.result["status"] == "succeeded"
    assert alice.get(f"/jobs/{job['jobId']}").json() == before
    assert len(alice.get("/images").json()["items"]) == 1
