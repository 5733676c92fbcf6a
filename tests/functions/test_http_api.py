"""Every HTTP route through the local gateway: happy path, bad input, bad tokens, other users' data."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import werkzeug.test
from cryptography.hazmat.primitives.asymmetric import rsa

from local.app import LocalApp
from local.fakes.openai_api import TRANSCRIPTIONS
from local.http_gateway import HttpGateway
from tests.functions.conftest import Client


def test_health_is_public_and_has_the_seed_shape(app: LocalApp) -> None:
    answer = requests.get(app.api_url + "/health", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "healthy" and body["service"] == "mumble-serverless" and body["stage"] == "ftest"
    assert body["version"] and body["timestamp"].endswith("Z")


def test_unknown_route_is_404(alice: Client) -> None:
    assert alice.get("/nope").status_code == 404
    assert alice.request("PATCH", "/users/me").status_code == 404


def _claims(client: Client) -> dict:
    return jwt.decode(client.tokens["IdToken"], options={"verify_signature": False})


def _moto_key() -> dict:
    """The local Cognito's signing key (moto's), to mint tokens the pool itself could have signed."""
    import gzip
    from pathlib import Path

    import moto.cognitoidp.models as cognito_models
    path = Path(cognito_models.__file__).parent / "resources" / "jwks-private.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.mark.parametrize("case", ["missing", "garbage", "forged", "expired", "other-client", "access-as-id"])
def test_protected_routes_refuse_bad_tokens(app: LocalApp, alice: Client, case: str) -> None:
    claims = _claims(alice)
    pool_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(_moto_key()))
    if case == "missing":
        headers = {}
    elif case == "garbage":
        headers = {"Authorization": "Bearer not.a.jwt"}
    elif case == "forged":  # the right shape and kid, signed by someone else's key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        headers = {"Authorization": "Bearer " + jwt.encode(claims, key, "RS256", headers={"kid": "dummy"})}
    elif case == "expired":  # signed by the pool's own key, but an hour old
        stale = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
        headers = {"Authorization": "Bearer " + jwt.encode(stale, pool_key, "RS256", headers={"kid": "dummy"})}
    elif case == "other-client":
        headers = {"Authorization": "Bearer " + jwt.encode({**claims, "aud": "another-client"}, pool_key, "RS256",
                                                           headers={"kid": "dummy"})}
    else:
        headers = {"Authorization": "Bearer " + jwt.encode({**claims, "token_use": "refresh"}, pool_key, "RS256",
                                                           headers={"kid": "dummy"})}
    for method, path in (("GET", "/users/me"), ("GET", "/images"), ("POST", "/generate")):
        answer = requests.request(method, app.api_url + path, headers=headers, json={"text": "x"}, timeout=10)
        assert answer.status_code == 401, (case, path, answer.text)
        assert answer.json() == {"message": "Unauthorized"}
    assert alice.get("/users/me").status_code == 200  # the real token still works


def test_profile_is_created_on_first_sight_and_updates_are_validated(alice: Client) -> None:
    me = alice.get("/users/me")
    assert me.status_code == 200
    assert me.json()["email"] == alice.email and me.json()["userId"] == alice.user_id

    for body, field in (({"displayName": ""}, "displayName"), ({"avatarUrl": "http://plain"}, "avatarUrl"),
                        ({"location": {"lat": 91, "lon": 0}}, "location"), ({"role": "admin"}, None), ({}, None)):
        answer = alice.put("/users/me", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"] == "ValidationError" and answer.json()["message"]
        if field:
            assert answer.json()["field"].startswith(field)
    bad_json = alice.put("/users/me", data="{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["message"]
    assert alice.get("/users/me").json() == me.json()  # nothing was written

    updated = alice.put("/users/me", json={"displayName": "Alice", "location": {"lat": 48.85, "lon": 2.35}})
    assert updated.status_code == 200
    assert updated.json()["displayName"] == "Alice" and updated.json()["location"] == {"lat": 48.85, "lon": 2.35}
    assert updated.json()["updatedAt"] > me.json()["updatedAt"]
    cleared = alice.put("/users/me", json={"location": None})
    assert "location" not in cleared.json() and cleared.json()["displayName"] == "Alice"


def test_audio_upload_signs_type_and_size_and_the_put_lands(app: LocalApp, alice: Client) -> None:
    answer = alice.post("/audio/upload", json={"contentType": "audio/webm;codecs=opus", "size": 12})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["audioKey"].startswith(f"audio/{alice.user_id}/") and body["audioKey"].endswith(".webm")
    query = parse_qs(urlsplit(body["upload"]["url"]).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]  # S3 rejects any other type/size
    assert int(query["X-Amz-Expires"][0]) <= 300
    put = requests.put(body["upload"]["url"], data=b"SPEECH:hi!!", headers=body["upload"]["headers"] | {
        "Content-Length": "12"}, timeout=10)
    assert put.status_code == 200
    s3 = app.aws.client("s3")
    stored = s3.head_object(Bucket=app.buckets["media"], Key=body["audioKey"])
    assert stored["ContentType"] == "audio/webm;codecs=opus"


@pytest.mark.parametrize("body,field", [
    ({"contentType": "video/mp4", "size": 10}, "contentType"),
    ({"contentType": "audio/flac", "size": 10}, "contentType"),
    ({"contentType": "audio/webm", "size": 25 * 1024 * 1024 + 1}, "size"),
    ({"contentType": "audio/webm", "size": 0}, "size"),
    ({"contentType": "audio/webm"}, None),
])
def test_audio_upload_rejects_bad_type_and_size(alice: Client, body: dict, field: str | None) -> None:
    answer = alice.post("/audio/upload", json=body)
    assert answer.status_code == 400
    assert answer.json().get("field") == field if field else answer.json()["error"] == "ValidationError"


def test_transcription_of_own_audio_only(alice: Client, bob: Client) -> None:
    key = alice.upload_audio("a lighthouse in a storm")
    answer = alice.post("/transcriptions", json={"audioKey": key})
    assert answer.status_code == 200 and answer.json()["text"] == "a lighthouse in a storm"
    assert bob.post("/transcriptions", json={"audioKey": key}).status_code == 400
    missing = alice.post("/transcriptions", json={"audioKey": f"audio/{alice.user_id}/nothing.webm"})
    assert missing.status_code == 404


def test_a_function_past_the_integration_limit_is_a_503(app: LocalApp, alice: Client) -> None:
    """API Gateway answers 503 when the integration outlives its limit (30 s); a gateway with a 1 s limit over the
    same runtime shows it without waiting half a minute. The next request is served normally."""
    key = alice.upload_audio("slow words")
    gateway = werkzeug.test.Client(HttpGateway(app.runtime, app.verifier, integration_timeout_s=1.0))
    app.openai.delay(TRANSCRIPTIONS, 3.0, times=1)
    started = time.monotonic()
    answer = gateway.post("/api/v1/transcriptions", json={"audioKey": key}, headers=alice.headers())
    assert answer.status_code == 503 and answer.json == {"message": "Service Unavailable"}
    assert time.monotonic() - started < 2.5
    # the timed-out worker was replaced: the next request (a cold start, so through the usual 30 s gateway) is served
    again = alice.post("/transcriptions", json={"audioKey": key})
    assert again.status_code == 200 and again.json()["text"] == "slow words"


def test_weather_is_cached_by_rounded_coordinates(app: LocalApp, alice: Client) -> None:
    first = alice.get("/weather", params={"lat": 10.123, "lon": 20.456})
    assert first.status_code == 200 and first.json()["cached"] is False
    calls = app.openweather.requests["/data/2.5/weather"]
    second = alice.get("/weather", params={"lat": 10.1249, "lon": 20.4551})  # rounds to the same point
    assert second.status_code == 200 and second.json()["cached"] is True
    assert app.openweather.requests["/data/2.5/weather"] == calls
    assert second.json()["description"] == first.json()["description"]
    elsewhere = alice.get("/weather", params={"lat": -33.87, "lon": 151.21})
    assert elsewhere.json()["cached"] is False


@pytest.mark.parametrize("params,field", [({"lat": 91, "lon": 0}, "lat"), ({"lat": 0}, "lon"),
                                          ({"lat": "x", "lon": 0}, "lat"), ({"lat": "nan", "lon": 0}, "lat")])
def test_weather_rejects_bad_coordinates(alice: Client, params: dict, field: str) -> None:
    answer = alice.get("/weather", params=params)
    assert answer.status_code == 400 and answer.json()["field"] == field


def test_weather_provider_failure_is_a_502(app: LocalApp, alice: Client) -> None:
    app.openweather.fail("/data/2.5/weather", 500, times=1)
    answer = alice.get("/weather", params={"lat": 1.5, "lon": 1.5})
    assert answer.status_code == 502 and answer.json()["error"] == "UpstreamError"


def _seed_images(app: LocalApp, user_id: str, count: int, public: bool = False) -> list[str]:
    dynamodb = app.aws.client("dynamodb")
    s3 = app.aws.client("s3")
    ids = []
    for n in range(count):
        image_id = f"{user_id[:8]}img{n:03d}"
        key = f"images/{user_id}/{image_id}.png"
        s3.put_object(Bucket=app.buckets["media"], Key=key, Body=b"not really a png")
        dynamodb.put_item(TableName=app.tables["images"], Item={
            "imageId": {"S": image_id}, "createdAt": {"S": f"2025-01-01T00:00:{n:02d}.000Z"},
            "userId": {"S": user_id}, "prompt": {"S": f"prompt {n}"}, "imageKey": {"S": key},
            "isPublic": {"BOOL": public}, "sourceVersion": {"N": "1"}, "passwordHash": {"S": "never shown"}})
        ids.append(image_id)
    return ids


def test_gallery_pages_newest_first_with_an_opaque_cursor(app: LocalApp, alice: Client, bob: Client) -> None:
    ids = _seed_images(app, alice.user_id, 5)
    _seed_images(app, bob.user_id, 3)
    seen, cursor = [], None
    while True:
        answer = alice.get("/images", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= 2
        seen += [item["imageId"] for item in page["items"]]
        for item in page["items"]:
            assert item["imageUrl"].startswith("http") and "X-Amz-Signature" in item["imageUrl"]
            assert "imageKey" not in item and "passwordHash" not in item and "sourceVersion" not in item
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_a_tampered_cursor_cannot_reach_another_users_images(app: LocalApp, alice: Client, bob: Client) -> None:
    _seed_images(app, alice.user_id, 2)
    bob_ids = _seed_images(app, bob.user_id, 3)
    assert alice.get("/images", params={"cursor": "!!!"}).status_code == 400
    assert alice.get("/images", params={"cursor": base64.urlsafe_b64encode(b'{"a":1}').decode()}).status_code == 400
    forged = base64.urlsafe_b64encode(json.dumps([bob_ids[2], "2025-01-01T00:00:02.000Z"]).encode()).decode()
    assert alice.get("/images", params={"cursor": forged}).status_code == 400  # unsigned
    bobs = bob.get("/images", params={"limit": 1}).json()["nextCursor"]
    assert bob.get("/images", params={"limit": 1, "cursor": bobs}).status_code == 200
    answer = alice.get("/images", params={"cursor": bobs})  # signed, but for another user
    assert answer.status_code == 400 and answer.json()["field"] == "cursor"
    payload, signature = bobs.split(".")
    tampered = base64.urlsafe_b64encode(json.dumps([bob_ids[0], "2099-01-01T00:00:00.000Z"]).encode()).decode()
    assert bob.get("/images", params={"cursor": f"{tampered.rstrip('=')}.{signature}"}).status_code == 400
    flipped = signature[:-1] + ("B" if signature[-1] != "B" else "C")
    assert bob.get("/images", params={"cursor": f"{payload}.{flipped}"}).status_code == 400
    assert bob.get("/images", params={"cursor": f"{payload}.{'A' * len(signature)}"}).status_code == 400
    assert alice.get("/images", params={"limit": 0}).json()["field"] == "limit"


def test_image_read_is_owner_or_public_and_delete_is_owner_only(app: LocalApp, alice: Client, bob: Client) -> None:
    private, = _seed_images(app, alice.user_id, 1)
    assert alice.get(f"/images/{private}").status_code == 200
    assert bob.get(f"/images/{private}").status_code == 404
    assert bob.delete(f"/images/{private}").status_code == 404
    assert alice.get(f"/images/{private}").status_code == 200  # still there

    public_id = f"{bob.user_id[:8]}pub"
    app.aws.client("dynamodb").put_item(TableName=app.tables["images"], Item={
        "imageId": {"S": public_id}, "createdAt": {"S": "2025-02-01T00:00:00.000Z"}, "userId": {"S": bob.user_id},
        "isPublic": {"BOOL": True}})
    assert alice.get(f"/images/{public_id}").status_code == 200

    assert alice.delete(f"/images/{private}").status_code == 204
    assert alice.get(f"/images/{private}").status_code == 404
    s3 = app.aws.client("s3")
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=app.buckets["media"], Key=f"images/{alice.user_id}/{private}.png")


def test_jobs_of_other_users_are_not_found(alice: Client, bob: Client) -> None:
    job = alice.post("/generate", json={"text": "a quiet harbour"})
    assert job.status_code == 202
    assert bob.get(f"/jobs/{job.json()['jobId']}").status_code == 404
    assert alice.get(f"/jobs/{job.json()['jobId']}").status_code == 200
    assert alice.get("/jobs/unknown").status_code == 404


def test_the_deployed_and_local_environment_give_handlers_the_same_names(app: LocalApp) -> None:
    """Functions see only their manifest's variables: no host credentials, no other function's tables."""
    from functions.manifest import BY_NAME
    env = app.function_environment(BY_NAME["health"])
    assert "JOBS_TABLE" not in env and "MEDIA_BUCKET" not in env
    worker = app.function_environment(BY_NAME["generateImageWorker"])
    assert {"JOBS_TABLE", "IMAGES_TABLE", "MEDIA_BUCKET", "OPENAI_API_KEY_PARAM", "WEBSOCKET_ENDPOINT"} <= set(worker)
    from local.app import OFFLINE_KEY
    assert OFFLINE_KEY not in worker.values()  # the key's parameter name is there, never its value
    assert "HOME" not in worker and "AWS_PROFILE" not in worker  # nothing leaks in from the host
