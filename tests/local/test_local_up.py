"""`make dev` (`python -m local up`): the whole app comes up, the printed token works, and SIGTERM stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import requests

from local.app import DEMO_EMAIL
from tests.conftest import ROOT

PROVIDER_KEYS = ("OPENAI_API_KEY", "OPENWEATHER_API_KEY", "LEGACY_MONGO_URI")


def _read_until_ready(process: subprocess.Popen, deadline_s: float) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if "Ctrl-C to stop." in line:
            return "".join(lines)
    raise AssertionError("`python -m local up` did not get ready:\n" + "".join(lines))


def test_local_up_serves_the_api_with_the_printed_token_and_stops_on_sigterm() -> None:
    legacy = "mongodb://mumble:s3cret@127.0.0.1:9/mumble"  # connected on the first stream record only
    process = subprocess.Popen([sys.executable, "-m", "local", "up", "--legacy-mongo-uri", legacy], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS})
    try:
        out = _read_until_ready(process, 120)
        api = re.search(r"API\s+(http://\S+)", out).group(1)  # type: ignore[union-attr]
        token = re.search(r"export TOKEN=(\S+)", out).group(1)  # type: ignore[union-attr]
        assert "reverse    reverseSync -> mongodb://***@127.0.0.1:9/mumble" in out and "s3cret" not in out
        assert requests.get(f"{api}/health", timeout=30).json()["status"] == "healthy"
        assert requests.get(f"{api}/users/me", timeout=30).status_code == 401
        me = requests.get(f"{api}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert me.status_code == 200 and me.json()["email"] == DEMO_EMAIL
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0


def test_local_up_rejects_a_legacy_uri_that_is_not_mongodb() -> None:
    run = subprocess.run([sys.executable, "-m", "local", "up", "--legacy-mongo-uri", "https://legacy.example.com"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "--legacy-mongo-uri must be a mongodb:// or mongodb+srv:// URI (got 'https://legacy.example.com')" \
        in run.stderr
