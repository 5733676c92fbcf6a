"""Hostile and sloppy request bodies through the local gateway: every class that used to answer 500 now gets a 4xx
naming the problem, in the documented error shape, and changes nothing; plus generated bodies (Hypothesis) on
every JSON route. `FUZZ_EXAMPLES` raises the example budget."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from functions.manifest import http_routes
from functions.shared.request_body import MAX_BODY_BYTES, MAX_DEPTH, BodyError, nesting_depth, read_json
from local.app import LocalApp
from tests.functions.conftest import Client, new_client

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
JSON_ROUTES = [("PUT", "/users/me"), ("POST", "/audio/upload"), ("POST", "/transcriptions"), ("POST", "/generate")]


def _send(client: Client, method: str, path: str, data: bytes, content_type: str = "application/json") -> Any:
    return requests.request(method, f"{client.app.api_url}{path}", data=data, timeout=30,
                            headers={"Authorization": f"Bearer {client.tokens['IdToken']}",
                                     "Content-Type": content_type})


def _assert_client_error(answer: Any) -> dict[str, Any]:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    body = answer.json()
    assert set(body) <= {"error", "message", "field"} and body["error"] and body["message"], body
    return body


@pytest.mark.parametrize("label, data, content_type, says", [
    ("latin-1 text", "{\"displayName\": \"caf\xe9\"}".encode("latin-1"), "application/json", "not UTF-8"),
    ("binary", bytes(range(256)), "application/octet-stream", "not UTF-8"),
    ("deep nesting", b"[" * 20_000 + b"]" * 20_000, "application/json", "nests"),
    ("NaN", b'{"displayName": "x", "preferences": {"n": NaN}}', "application/json", "NaN"),
    ("Infinity", b'{"preferences": {"n": -Infinity}}', "application/json", "Infinity"),
    ("overflow", b'{"preferences": {"n": 1e400}}', "application/json", "outside what can be stored"),
    ("huge field", json.dumps({"preferences": {"bio": "x" * 1_000_000}}).encode(), "application/json", "bytes"),
    ("long preference", json.dumps({"preferences": {"bio": "x" * 1001}}).encode(), "application/json",
     "preferences"),
    ("long preference name", json.dumps({"preferences": {"k" * 65: 1}}).encode(), "application/json", "preferences"),
    ("preferences over 8 KiB", json.dumps({"preferences": {f"k{i}": "x" * 900 for i in range(10)}}).encode(),
     "application/json", "at most 8192 bytes"),
    ("a long list in preferences", json.dumps({"preferences": {"tags": ["t"] * 51}}).encode(), "application/json",
     "preferences"),
])
def test_a_hostile_profile_body_is_a_4xx_and_changes_nothing(app: LocalApp, label: str, data: bytes,
                                                            content_type: str, says: str) -> None:
    client = new_client(app)
    before = client.get("/users/me").json()
    body = _assert_client_error(_send(client, "PUT", "/users/me", data, content_type))
    assert says in body["message"], body
    assert client.get("/users/me").json() == before


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(route=st.sampled_from(JSON_ROUTES), data=st.binary(max_size=512))
def test_random_bytes_on_any_json_route_never_get_a_5xx(app: LocalApp, route: tuple[str, str], data: bytes) -> None:
    client = _client(app)
    answer = _send(client, *route, data)
    assert answer.status_code < 500, (route, data[:80], answer.text[:300])
    if answer.status_code >= 400:
        _assert_client_error(answer)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(route=st.sampled_from(JSON_ROUTES), value=st.dictionaries(
    st.sampled_from(["displayName", "avatarUrl", "preferences", "location", "contentType", "size", "audioKey",
                     "text", "style"]) | st.text(max_size=10), JSON_VALUES, max_size=4))
def test_random_json_on_any_json_route_never_gets_a_5xx(app: LocalApp, route: tuple[str, str],
                                                        value: dict[str, Any]) -> None:
    client = _client(app)
    answer = _send(client, *route, json.dumps(value).encode())
    assert answer.status_code < 500, (route, value, answer.text[:300])
    if answer.status_code >= 400:
        _assert_client_error(answer)


_CLIENTS: dict[int, Client] = {}


def _client(app: LocalApp) -> Client:
    """One signed-in user for the generated examples (signing up per example would dominate the run)."""
    if id(app) not in _CLIENTS:
        _CLIENTS[id(app)] = new_client(app)
    return _CLIENTS[id(app)]


# --- the reader itself ------------------------------------------------------------------------------------------

@given(st.text(max_size=200))
def test_the_depth_scan_never_underestimates_the_parser(text: str) -> None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return

    def depth(v: Any) -> int:
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        return 0
    assert nesting_depth(text) >= depth(value)


@given(st.binary(max_size=300))
def test_the_reader_accepts_or_refuses_any_bytes_with_a_body_error(data: bytes) -> None:
    import base64
    for body, encoded in ((base64.b64encode(data).decode(), True), (data.decode("latin-1"), False)):
        try:
            read_json(body, encoded)
        except BodyError as error:
            assert error.status in (400, 413) and str(error)


def test_limits_are_what_the_readme_says() -> None:
    assert (MAX_BODY_BYTES, MAX_DEPTH) == (64 * 1024, 16)
    with pytest.raises(BodyError, match="413|bytes"):
        read_json("x" * (MAX_BODY_BYTES + 1))
    assert read_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(BodyError, match="nests 17 levels"):
        read_json("[" * 17 + "]" * 17)


# --- one identity per user, strict query numbers -----------------------------------------------------------------

def test_an_access_token_is_refused_with_a_clear_401_everywhere(app: LocalApp) -> None:
    legacy_id = "64b0c0ffee00000000000abc"
    client = new_client(app, legacy_id=legacy_id)
    access = {"Authorization": f"Bearer {client.tokens['AccessToken']}"}
    answer = requests.get(f"{app.api_url}/users/me", headers=access, timeout=30)
    assert answer.status_code == 401 and "id token" in answer.json()["message"]
    assert client.get("/users/me").json()["userId"] == legacy_id  # the id token: the one identity
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{app.websocket.url}/?token={client.tokens['AccessToken']}", open_timeout=10)
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("query", ["lat=1_0&lon=2", "lat=%2010&lon=2", "lat=1e1&lon=2", "lat=nan&lon=2",
                                   "lat=inf&lon=2", "lat=+5&lon=2", "lat=05&lon=2", "lat=1.&lon=2"])
def test_query_numbers_follow_a_strict_grammar(app: LocalApp, query: str) -> None:
    client = _client(app)
    answer = requests.get(f"{app.api_url}/weather?{query}", timeout=30,
                          headers={"Authorization": f"Bearer {client.tokens['IdToken']}"})
    body = _assert_client_error(answer)
    assert body["field"] == "lat"


@pytest.mark.parametrize("limit", ["1_0", " 5", "+5", "5.0", "0x5"])
def test_the_gallery_limit_follows_a_strict_grammar(app: LocalApp, limit: str) -> None:
    client = _client(app)
    answer = requests.get(f"{app.api_url}/images", params={"limit": limit}, timeout=30,
                          headers={"Authorization": f"Bearer {client.tokens['IdToken']}"})
    assert _assert_client_error(answer)["field"] == "limit"


# --- every route and action of the manifest, with everything a client controls generated --------------------

ROUTES = [(route.method, route.full_path) for route, _ in http_routes()]
HEADER_NAMES = st.sampled_from(["Content-Type", "Idempotency-Key", "Accept", "X-Forwarded-For", "If-None-Match",
                                "Accept-Language", "Cookie", "X-Anything"])
# what HTTP lets through in a header value
HEADER_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)
PATH_IDS = st.one_of(st.text(max_size=80), st.just(""), st.sampled_from(["..", "%2e%2e", "a/b", "%00", "x" * 300]))
BODIES = st.one_of(st.none(), st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode()))
QUERIES = st.dictionaries(st.sampled_from(["limit", "cursor", "lat", "lon", "x"]) | st.text(max_size=8),
                          st.text(max_size=40), max_size=4)


def _state(app: LocalApp, client: Client) -> Any:
    """The user's own items: profile and images (what a rejected request must not touch)."""
    dynamodb = app.aws.client("dynamodb")
    profile = dynamodb.get_item(TableName=app.tables["users"], Key={"userId": {"S": client.user_id}},
                                ConsistentRead=True).get("Item")
    images = dynamodb.query(TableName=app.tables["images"], IndexName="UserIndex",
                            KeyConditionExpression="userId = :u",
                            ExpressionAttributeValues={":u": {"S": client.user_id}})["Items"]
    return profile, sorted(images, key=lambda item: item["imageId"]["S"])


@settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), path_id=PATH_IDS, query=QUERIES, body=BODIES,
       headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4))
def test_anything_on_any_route_is_never_a_5xx_and_a_refusal_changes_nothing(
        app: LocalApp, route: tuple[str, str], path_id: str, query: dict[str, str], body: bytes | None,
        headers: dict[str, str]) -> None:
    client = _client(app)
    method, path = route
    url = app.http.url + re.sub(r"\{[^}]+\}", lambda _: quote(path_id, safe=""), path)
    before = _state(app, client)
    answer = requests.request(method, url, params=query, data=body, timeout=40,
                              headers={**headers, "Authorization": f"Bearer {client.tokens['IdToken']}"})
    assert answer.status_code < 500, (route, path_id, query, body, headers, answer.text[:300])
    if answer.status_code >= 400:
        shown = answer.json()
        assert isinstance(shown, dict), (route, path_id, query, body, headers, answer.text[:300])
        # ours: {error, message, field?}; API Gateway's own (no route matched): {message}
        assert shown.get("message") and set(shown) <= {"error", "message", "field"}, shown
        assert _state(app, client) == before, (route, path_id, query, body)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(frames=st.lists(st.one_of(
    st.text(max_size=200), JSON_VALUES.map(json.dumps),
    st.dictionaries(st.sampled_from(["action", "text", "audioKey", "idempotencyKey", "style"]), JSON_VALUES,
                    max_size=4).map(lambda d: json.dumps({"action": "generateImage", **d}))), min_size=1, max_size=3))
def test_anything_sent_over_the_websocket_gets_an_answer_in_the_documented_shape(app: LocalApp,
                                                                                 frames: list[str]) -> None:
    client = _client(app)
    with connect(f"{app.websocket.url}/?token={client.tokens['IdToken']}", open_timeout=10) as socket:
        for frame in frames:
            socket.send(frame)
            answer = json.loads(socket.recv(timeout=30))
            assert answer.get("type") in ("error", "accepted", "job"), answer
            if answer["type"] == "error":
                assert answer["error"] != "InternalError" and answer["message"], (frame, answer)
