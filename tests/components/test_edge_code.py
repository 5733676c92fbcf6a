"""The CloudFront Functions, run under Node.js as CloudFront would run them (tests/components/edge_harness.mjs
replaces the `cloudfront` module with a stand-in over a KeyValueStore fixture and records the chosen origin)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.edge_functions import EDGE_FUNCTIONS, MAX_FUNCTION_BYTES, edge_function_code

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the CloudFront Function tests")
HARNESS = Path(__file__).parent / "edge_harness.mjs"
STORE = {"weight": "50", "salt": "s1"}
LEGACY = "legacy"
NEW = None  # no origin selected: the behaviour's own (new stack) origin


def _node(function: str, payload: dict[str, Any], tmp_path: Path) -> Any:
    code = tmp_path / f"{function}.js"
    code.write_text(edge_function_code(function))
    done = subprocess.run(["node", str(HARNESS), str(code)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _event(uri: str = "/gallery", token: str | None = None, cookies: dict[str, str] | None = None,
           headers: dict[str, str] | None = None, ip: str = "198.51.100.7") -> dict[str, Any]:
    all_headers = {"user-agent": "test-browser/1.0", **(headers or {})}
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    return {"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": ip},
            "request": {"method": "GET", "uri": uri, "querystring": {},
                        "headers": {k: {"value": v} for k, v in all_headers.items()},
                        "cookies": {k: {"value": v} for k, v in (cookies or {}).items()}}}


def _token(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def _route(events: list[dict[str, Any]], tmp_path: Path, store: Any = STORE) -> list[dict[str, Any]]:
    return _node("cutover-router", {"store": store, "events": events}, tmp_path)


def _origins(events: list[dict[str, Any]], tmp_path: Path, store: Any = STORE) -> list[str | None]:
    results = _route(events, tmp_path, store)
    assert all("error" not in r for r in results), results
    return [r["origin"] for r in results]


def _subjects_on_each_side(tmp_path: Path, count: int = 40) -> tuple[str, str]:
    """A visitor id routed to the new stack and one routed to legacy at weight 50."""
    ids = [f"v:visitor-{i}" for i in range(count)]
    origins = _origins([_event(cookies={"mumble-vid": i}) for i in ids], tmp_path)
    return ids[origins.index(NEW)], ids[origins.index(LEGACY)]


# --- the single-page-app fallback -------------------------------------------------------------------------------

def test_client_routes_get_index_html_and_files_stay_files(tmp_path: Path) -> None:
    uris = ["/", "/gallery", "/gallery/", "/images/abc", "/assets/app.3f9c2a1b.js", "/favicon.svg", "/v1.2/page"]
    results = _node("spa-rewrite", {"store": {}, "events": [_event(u) for u in uris]}, tmp_path)
    assert [r["result"]["uri"] for r in results] == [
        "/index.html", "/index.html", "/index.html", "/index.html", "/assets/app.3f9c2a1b.js", "/favicon.svg",
        "/index.html"]


def test_every_function_fits_cloudfront_limits() -> None:
    for name in EDGE_FUNCTIONS:
        assert len(edge_function_code(name).encode()) < MAX_FUNCTION_BYTES, name
    assert edge_function_code("cutover-router").startswith("import cf from 'cloudfront';")


# --- the cutover router -----------------------------------------------------------------------------------------

def test_weight_0_sends_everyone_to_legacy_and_100_everyone_to_new(tmp_path: Path) -> None:
    events = [_event(cookies={"mumble-vid": f"v:someone-{i}"}) for i in range(200)]
    assert set(_origins(events, tmp_path, {**STORE, "weight": "0"})) == {LEGACY}
    assert set(_origins(events, tmp_path, {**STORE, "weight": "100"})) == {NEW}


def test_the_share_follows_the_weight_and_nobody_moves_back_when_it_rises(tmp_path: Path) -> None:
    weights = [1, 5, 25, 50, 75]
    out = _node("cutover-router", {"store": STORE, "share": {"weights": weights, "subjects": 100_000}}, tmp_path)
    for weight in weights:
        assert abs(out["shares"][str(weight)] - weight) <= 1.0, out["shares"]
    assert out["movedBack"] == 0 and out["unstable"] == 0


def test_new_stack_requests_get_the_spa_fallback_legacy_ones_are_untouched(tmp_path: Path) -> None:
    on_new, on_legacy = _subjects_on_each_side(tmp_path)
    results = _route([_event("/gallery", cookies={"mumble-vid": on_new}),
                      _event("/api/v1/images", cookies={"mumble-vid": on_new}),
                      _event("/gallery", cookies={"mumble-vid": on_legacy}),
                      _event("/api/images", cookies={"mumble-vid": on_legacy})], tmp_path)
    assert [r["origin"] for r in results] == [NEW, NEW, LEGACY, LEGACY]
    assert [r["result"]["uri"] for r in results] == ["/index.html", "/api/v1/images", "/gallery", "/api/images"]
    assert [r["result"]["headers"]["x-mumble-cohort"]["value"] for r in results] == ["new", "new", "legacy",
                                                                                     "legacy"]


def test_token_subject_beats_cookie_beats_ip_and_sticks(tmp_path: Path) -> None:
    on_new, on_legacy = _subjects_on_each_side(tmp_path)
    new_user, legacy_user = on_new.removeprefix("v:"), on_legacy.removeprefix("v:")
    # The same subjects as token users hash differently ("u:" prefix), so find a token user on each side too.
    users = [f"user-{i}" for i in range(40)]
    by_token = _origins([_event(token=_token({"sub": u})) for u in users], tmp_path)
    token_new, token_legacy = users[by_token.index(NEW)], users[by_token.index(LEGACY)]
    assert new_user and legacy_user
    events = [
        _event(token=_token({"sub": token_new}), cookies={"mumble-vid": on_legacy}),  # token wins over cookie
        _event(token=_token({"sub": token_legacy}), cookies={"mumble-vid": on_new}),
        _event(cookies={"mumble-vid": on_new}, ip="203.0.113.1"),  # cookie wins over IP
        _event(cookies={"mumble-vid": on_legacy}, ip="203.0.113.1"),
    ]
    assert _origins(events, tmp_path) == [NEW, LEGACY, NEW, LEGACY]
    assert _origins(events, tmp_path) == [NEW, LEGACY, NEW, LEGACY]  # the same request, the same side


def test_the_legacy_id_claim_is_preferred_so_a_user_hashes_alike_on_both_stacks(tmp_path: Path) -> None:
    users = [f"5f0c{i:020x}" for i in range(30)]
    legacy_tokens = _origins([_event(token=_token({"sub": u})) for u in users], tmp_path)
    cognito_tokens = _origins([_event(token=_token({"sub": f"cognito-{i}", "custom:userId": u}))
                               for i, u in enumerate(users)], tmp_path)
    assert legacy_tokens == cognito_tokens and set(legacy_tokens) == {NEW, LEGACY}


def test_override_pins_either_side(tmp_path: Path) -> None:
    on_new, on_legacy = _subjects_on_each_side(tmp_path)
    events = [_event(cookies={"mumble-vid": on_new, "mumble-cohort": "legacy"}),
              _event(cookies={"mumble-vid": on_legacy, "mumble-cohort": "new"}),
              _event(cookies={"mumble-vid": on_legacy}, headers={"x-mumble-cohort-override": "new"}),
              _event(cookies={"mumble-vid": on_legacy, "mumble-cohort": "bogus"})]
    assert _origins(events, tmp_path, {**STORE, "weight": "50"}) == [LEGACY, NEW, NEW, LEGACY]
    pinned = _event(cookies={"mumble-cohort": "new"})
    assert _origins([pinned], tmp_path, "failing") == [NEW]  # a pin needs no store


@pytest.mark.parametrize("store", ["unavailable", "failing", {"salt": "s1"}, {"weight": "50"},
                                   {"weight": "abc", "salt": "s1"}, {"weight": "101", "salt": "s1"},
                                   {"weight": "12.5", "salt": "s1"}])
def test_a_missing_or_unreadable_store_sends_everyone_to_legacy(tmp_path: Path, store: Any) -> None:
    events = [_event(cookies={"mumble-vid": f"v:someone-{i}"}) for i in range(50)]
    assert set(_origins(events, tmp_path, store)) == {LEGACY}


def test_malformed_tokens_and_cookies_do_not_throw(tmp_path: Path) -> None:
    not_json = base64.urlsafe_b64encode(b"{not json").decode().rstrip("=")
    events = [_event(token="garbage"), _event(token=f"a.{not_json}.c"), _event(token="a.!!!.c"),
              _event(token=_token({"sub": 42})), _event(token=_token({"sub": "x" * 500})),
              _event(token=_token({"sub": "bad\u0000chars"})),
              _event(headers={"authorization": "Basic dXNlcjpwdw=="}),
              _event(cookies={"mumble-vid": "<script>"}), _event(cookies={"mumble-vid": ""})]
    events.append({"viewer": {"ip": "198.51.100.7"}, "request": {"method": "GET", "uri": "/", "querystring": {},
                                                                 "headers": {}, "cookies": {}}})
    results = _route(events, tmp_path)
    assert all("error" not in r and r["origin"] in (NEW, LEGACY) for r in results), results


def test_a_viewer_cannot_set_its_own_cohort_header(tmp_path: Path) -> None:
    on_new, on_legacy = _subjects_on_each_side(tmp_path)
    (result,) = _route([_event(cookies={"mumble-vid": on_legacy}, headers={"x-mumble-cohort": "new"})], tmp_path)
    assert result["origin"] == LEGACY and result["result"]["headers"]["x-mumble-cohort"]["value"] == "legacy"


# --- the visitor cookie -----------------------------------------------------------------------------------------

def _response_event(request_event: dict[str, Any], cookies: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**request_event, "context": {"eventType": "viewer-response"},
            "response": {"statusCode": 200, "headers": {}, "cookies": cookies or {}}}


def test_a_first_visit_gets_the_id_it_was_routed_by_and_keeps_its_side(tmp_path: Path) -> None:
    visits = [_event(ip=f"198.51.100.{i}") for i in range(30)]
    answers = _node("visitor-cookie", {"store": {}, "events": [_response_event(v) for v in visits]}, tmp_path)
    ids = [a["result"]["cookies"]["mumble-vid"] for a in answers]
    assert all(c["value"].startswith("v:") and "Secure" in c["attributes"] and "HttpOnly" in c["attributes"]
               for c in ids)
    first = _origins(visits, tmp_path)
    # The next requests of each visitor carry the cookie (and maybe another IP): the same side as the first.
    again = _origins([_event(cookies={"mumble-vid": c["value"]}, ip="192.0.2.99") for c in ids], tmp_path)
    assert first == again and set(first) == {NEW, LEGACY}


def test_the_cookie_follows_the_signed_in_user_and_is_left_alone_when_it_matches(tmp_path: Path) -> None:
    token = _token({"sub": "cognito-1", "custom:userId": "5f0c00000000000000000001"})
    events = [_response_event(_event(token=token, cookies={"mumble-vid": "v:abc"})),
              _response_event(_event(token=token, cookies={"mumble-vid": "u:5f0c00000000000000000001"}))]
    changed, same = _node("visitor-cookie", {"store": {}, "events": events}, tmp_path)
    assert changed["result"]["cookies"]["mumble-vid"]["value"] == "u:5f0c00000000000000000001"
    assert "mumble-vid" not in same["result"]["cookies"]


# --- the legacy cohort gets exactly what it sent; the new site keeps its cache key ------------------------------

def test_a_legacy_cohort_post_reaches_the_legacy_origin_as_sent(tmp_path: Path) -> None:
    _, on_legacy = _subjects_on_each_side(tmp_path)
    event = _event("/account/settings", cookies={"mumble-vid": on_legacy, "PHPSESSID": "abc123", "csrf": "t0k"},
                   headers={"content-type": "application/x-www-form-urlencoded", "x-requested-with": "form"})
    event["request"]["method"] = "POST"
    event["request"]["querystring"] = {"tab": {"value": "privacy"}, "ids": {"value": "1", "multiValue": [
        {"value": "1"}, {"value": "2"}]}}
    sent = json.loads(json.dumps(event["request"]))
    (result,) = _route([event], tmp_path)
    assert result["origin"] == LEGACY
    forwarded = result["result"]
    assert forwarded["headers"].pop("x-mumble-cohort") == {"value": "legacy"}
    assert forwarded == sent  # method, uri, query string, every cookie and header untouched


def test_new_cohort_page_requests_keep_only_what_the_static_site_needs(tmp_path: Path) -> None:
    on_new, _ = _subjects_on_each_side(tmp_path)
    page = _event("/gallery", cookies={"mumble-vid": on_new, "PHPSESSID": "abc", "mumble-cohort": "new"})
    page["request"]["querystring"] = {"utm_source": {"value": "mail"}}
    post = _event("/gallery", cookies={"mumble-vid": on_new})
    post["request"]["method"] = "POST"
    api = _event("/api/v1/images", cookies={"mumble-vid": on_new, "other": "x"})
    api["request"]["querystring"] = {"cursor": {"value": "abc"}}
    page_result, post_result, api_result = (r["result"] for r in _route([page, post, api], tmp_path))
    assert page_result["querystring"] == {} and set(page_result["cookies"]) == {"mumble-vid", "mumble-cohort"}
    assert post_result["statusCode"] == 405 and post_result["headers"]["allow"]["value"] == "GET, HEAD, OPTIONS"
    assert api_result["querystring"] == {"cursor": {"value": "abc"}} and "other" in api_result["cookies"]


@pytest.mark.parametrize("weight", [" 100 ", "0x64", "1e2", "007", "+50", "-0", "", "50.0", "1_0", "٥٠", "100\n"])
def test_only_a_plain_decimal_weight_from_0_to_100_is_read(tmp_path: Path, weight: str) -> None:
    events = [_event(cookies={"mumble-vid": f"v:someone-{i}"}) for i in range(40)]
    assert set(_origins(events, tmp_path, {"weight": weight, "salt": "s1"})) == {LEGACY}


@pytest.mark.parametrize("weight, expected", [("0", {LEGACY}), ("100", {NEW}), ("7", {NEW, LEGACY}),
                                              ("50", {NEW, LEGACY})])
def test_valid_weights_are_read(tmp_path: Path, weight: str, expected: set) -> None:
    events = [_event(cookies={"mumble-vid": f"v:someone-{i}"}) for i in range(60)]
    assert set(_origins(events, tmp_path, {"weight": weight, "salt": "s1"})) == expected
