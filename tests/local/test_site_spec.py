"""The web client's needs are stated once (functions/site_spec.py): the client, the edge and local mode agree."""

from __future__ import annotations

import re
from pathlib import Path

from functions.site_spec import (CONFIG_KEYS, PASSWORD_POLICY, ClientOrigins, aws_origins, cache_control_for,
                                 content_security_policy, source_digest)

SITE = Path(__file__).resolve().parents[2] / "site"


def test_the_client_reads_exactly_the_keys_config_json_carries() -> None:
    source = (SITE / "src" / "config.ts").read_text()
    keys = re.search(r"const KEYS[^=]*=\s*\[([^\]]*)\]", source, re.S).group(1)
    assert tuple(re.findall(r'"(\w+)"', keys)) == CONFIG_KEYS


def test_the_sign_up_form_states_the_pools_password_rule() -> None:
    strings = (SITE / "src" / "i18n.ts").read_text()
    minimum = PASSWORD_POLICY.minimum_length
    assert f"At least {minimum} characters" in strings and f"至少 {minimum} 位" in strings
    assert f"minLength={{mode === \"signIn\" ? 1 : {minimum}}}" in (SITE / "src" / "views" / "SignIn.tsx").read_text()


def test_the_csp_allows_only_the_origins_the_client_talks_to() -> None:
    csp = content_security_policy(aws_origins("eu-west-1"))
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "wss://*.execute-api.eu-west-1.amazonaws.com" in directives["connect-src"]
    assert "https://cognito-idp.eu-west-1.amazonaws.com" in directives["connect-src"]
    assert "https://*.s3.eu-west-1.amazonaws.com" in directives["img-src"]
    assert "unsafe" not in csp
    local = content_security_policy(ClientOrigins(media=("http://127.0.0.1:9",), websocket=("ws://127.0.0.1:8",),
                                                  cognito=()))
    assert "connect-src 'self' ws://127.0.0.1:8 http://127.0.0.1:9" in local


def test_only_hex_hashed_names_are_immutable() -> None:
    assert cache_control_for("assets/index-8ceecb40.js").endswith("immutable")
    assert cache_control_for("assets/index-BkJ1_x9Q.js") == "public, max-age=300"  # Vite's default hash: no
    assert cache_control_for("index.html") == "no-cache"


def test_the_source_digest_follows_the_sources(tmp_path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.ts").write_text("1")
    first = source_digest(tmp_path)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "x.js").write_text("built output is not a source")
    assert source_digest(tmp_path) == first
    (tmp_path / "src" / "a.ts").write_text("2")
    assert source_digest(tmp_path) != first
