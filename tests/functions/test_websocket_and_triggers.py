"""WebSocket connect/route/push, gone connections, the maintenance schedule, the Cognito user-migration trigger and
the runtime's asynchronous retry semantics."""

from __future__ import annotations

import datetime as dt
import json
import time

import bcrypt
import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.app import LocalApp
from tests.functions.conftest import Client, new_client


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-jwt"])
def test_connect_without_a_valid_token_is_refused(app: LocalApp, query: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{app.websocket.url}/{query}", open_timeout=10)
    assert refused.value.response.status_code == 401


def test_connection_is_recorded_and_forgotten(app: LocalApp, alice: Client) -> None:
    dynamodb = app.aws.client("dynamodb")

    def mine() -> list:
        return [i for i in dynamodb.scan(TableName=app.tables["connections"])["Items"]
                if i["userId"]["S"] == alice.user_id]

    with connect(f"{app.websocket.url}/?token={alice.tokens['IdToken']}", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "dance"}))
        error = json.loads(socket.recv(timeout=10))
        assert error["type"] == "error" and error["error"] == "UnknownAction"
        assert len(mine()) == 1 and int(mine()[0]["expiresAt"]["N"]) > time.time() + 3600
    deadline = time.monotonic() + 10
    while mine() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mine() == []


def test_generate_over_the_socket(app: LocalApp, alice: Client) -> None:
    with connect(f"{app.websocket.url}/?token={alice.tokens['IdToken']}", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "generateImage", "text": "a", "style": "nope"}))
        invalid = json.loads(socket.recv(timeout=10))
        assert invalid["error"] == "ValidationError" and invalid["field"] == "style"
        socket.send(json.dumps({"action": "generateImage", "text": "a kite over dunes",
                                "idempotencyKey": "socket-job-0001"}))
        accepted = json.loads(socket.recv(timeout=10))
        assert accepted["type"] == "job" and accepted["status"] == "pending"
        done = json.loads(socket.recv(timeout=30))
        assert done["jobId"] == accepted["jobId"] and done["status"] == "succeeded" and done["imageId"]


def test_a_push_to_a_gone_connection_removes_it(app: LocalApp, alice: Client) -> None:
    dynamodb = app.aws.client("dynamodb")
    dynamodb.put_item(TableName=app.tables["connections"], Item={
        "connectionId": {"S": "gone-connection="}, "userId": {"S": alice.user_id},
        "expiresAt": {"N": str(int(time.time()) + 3600)}})
    job = alice.post("/generate", json={"text": "anyone there?"}).json()
    app.settle()
    assert alice.get(f"/jobs/{job['jobId']}").json()["status"] == "succeeded"
    assert "Item" not in dynamodb.get_item(TableName=app.tables["connections"],
                                           Key={"connectionId": {"S": "gone-connection="}})


def test_management_endpoint_answers_410_for_unknown_connections(app: LocalApp) -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=app.websocket.management_url,
                          region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="nobody=", Data=b"{}")


def test_maintenance_fails_stuck_jobs_only(app: LocalApp, alice: Client) -> None:
    dynamodb = app.aws.client("dynamodb")
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fresh = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for job_id, status, updated in (("stuck-pending", "pending", old), ("stuck-running", "running", old),
                                    ("fresh-pending", "pending", fresh), ("old-done", "succeeded", old)):
        dynamodb.put_item(TableName=app.tables["jobs"], Item={
            "jobId": {"S": job_id}, "userId": {"S": alice.user_id}, "status": {"S": status},
            "createdAt": {"S": updated}, "updatedAt": {"S": updated}})
    outcome = app.run_schedule("maintenance")
    assert outcome.ok and outcome.result["failed"] == 2

    def status(job_id: str) -> str:
        return dynamodb.get_item(TableName=app.tables["jobs"], Key={"jobId": {"S": job_id}})["Item"]["status"]["S"]

    assert status("stuck-pending") == status("stuck-running") == "failed"
    assert status("fresh-pending") == "pending" and status("old-done") == "succeeded"
    assert app.run_schedule("maintenance").result["failed"] == 0


def _legacy_user(app: LocalApp, user_id: str, email: str, password: str) -> None:
    app.aws.client("dynamodb").put_item(TableName=app.tables["users"], Item={
        "userId": {"S": user_id}, "email": {"S": email}, "username": {"S": "legacy"},
        "passwordHash": {"S": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()},
        "sourceVersion": {"N": "1000"}, "origin": {"S": "legacy"}})


def _migration_event(email: str, password: str | None, source: str = "UserMigration_Authentication") -> dict:
    return {"version": "1", "triggerSource": source, "region": "us-east-1", "userPoolId": "local",
            "userName": email, "callerContext": {"awsSdkVersion": "x", "clientId": "local"},
            "request": {"password": password, "validationData": None, "userAttributes": None}, "response": {}}


def test_user_migration_with_the_right_password(app: LocalApp) -> None:
    _legacy_user(app, "65a000000000000000000001", "old.timer@example.com", "correct horse")
    outcome = app.runtime.invoke("userMigration", _migration_event("Old.Timer@example.com", "correct horse"))
    assert outcome.ok, outcome.error
    response = outcome.result["response"]
    assert response["finalUserStatus"] == "CONFIRMED" and response["messageAction"] == "SUPPRESS"
    assert response["userAttributes"] == {"email": "old.timer@example.com", "email_verified": "true",
                                          "custom:userId": "65a000000000000000000001"}
    item = app.aws.client("dynamodb").get_item(TableName=app.tables["users"],
                                               Key={"userId": {"S": "65a000000000000000000001"}})["Item"]
    assert "passwordHash" not in item and int(item["sourceVersion"]["N"]) > 1000 and item["origin"]["S"] == "aws"

    # the migrated user's token carries the legacy id, so the API knows them by it
    migrated = new_client(app, legacy_id="65a000000000000000000001")
    assert migrated.get("/users/me").json()["userId"] == "65a000000000000000000001"


def test_user_migration_refuses_a_wrong_password_and_changes_nothing(app: LocalApp) -> None:
    _legacy_user(app, "65a000000000000000000002", "careful@example.com", "right one")
    before = app.aws.client("dynamodb").get_item(TableName=app.tables["users"],
                                                 Key={"userId": {"S": "65a000000000000000000002"}})["Item"]
    wrong = app.runtime.invoke("userMigration", _migration_event("careful@example.com", "wrong one"))
    assert not wrong.ok and "Bad password" in wrong.error["errorMessage"]
    unknown = app.runtime.invoke("userMigration", _migration_event("nobody@example.com", "x"))
    assert not unknown.ok and "does not exist" in unknown.error["errorMessage"]
    after = app.aws.client("dynamodb").get_item(TableName=app.tables["users"],
                                                Key={"userId": {"S": "65a000000000000000000002"}})["Item"]
    assert after == before


def test_user_migration_forgot_password_path(app: LocalApp) -> None:
    _legacy_user(app, "65a000000000000000000003", "forgetful@example.com", "gone from memory")
    outcome = app.runtime.invoke("userMigration", _migration_event("forgetful@example.com", None,
                                                                   "UserMigration_ForgotPassword"))
    assert outcome.ok
    assert "finalUserStatus" not in outcome.result["response"]
    assert outcome.result["response"]["userAttributes"]["email_verified"] == "true"


def test_async_invocations_are_retried_then_dead_lettered(app: LocalApp) -> None:
    before = len(app.runtime.dead_letters)
    app.runtime.invoke_async("imageProcessor", {"not": "an S3 event"})
    app.runtime.wait_idle(30)
    letters = app.runtime.dead_letters[before:]
    assert len(letters) == 1 and letters[0].function == "imageProcessor"
    assert letters[0].attempts == 3  # the first try and the manifest's two retries
