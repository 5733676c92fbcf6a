"""One local app (moto server, provider fakes, every function in the local Lambda runtime, both gateways) for the
function tests, with its own moto server so other suites' resets cannot touch it. Each test gets fresh users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import requests

from local.app import LocalApp, LocalAppOptions

WORKER_TIMEOUT_S = 12.0  # short, so the provider-timeout test ends in seconds; ~2 s per OpenAI attempt


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApp]:
    options = LocalAppOptions(stage="ftest", retry_delays=(0.2, 0.4), log_dir=tmp_path_factory.mktemp("local"),
                              function_timeouts={"generateImageWorker": WORKER_TIMEOUT_S})
    with LocalApp(options) as local:
        yield local


@pytest.fixture(autouse=True)
def _calm_providers(app: LocalApp) -> Iterator[None]:
    app.openai.reset()
    app.openweather.reset()
    yield
    app.settle()


@dataclass
class Client:
    """A signed-in user talking to the local API over HTTP."""

    app: LocalApp
    email: str
    tokens: dict[str, str]

    @property
    def user_id(self) -> str:
        import jwt
        claims = jwt.decode(self.tokens["IdToken"], options={"verify_signature": False})
        return claims.get("custom:userId") or claims["sub"]

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['IdToken']}", **(extra or {})}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = self.headers(kwargs.pop("headers", None))
        return requests.request(method, self.app.api_url + path, headers=headers, timeout=40, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def upload_audio(self, spoken: str) -> str:
        """Upload a recording through the presigned PUT, as the browser does; returns its audioKey."""
        audio = b"SPEECH:" + spoken.encode()
        answer = self.post("/audio/upload", json={"contentType": "audio/webm", "size": len(audio)})
        assert answer.status_code == 201, answer.text
        upload = answer.json()["upload"]
        put = requests.put(upload["url"], data=audio, headers=upload["headers"], timeout=10)
        assert put.status_code == 200, put.text
        return answer.json()["audioKey"]


def new_client(app: LocalApp, legacy_id: str | None = None) -> Client:
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    return Client(app, email, app.user(email, legacy_id=legacy_id))


@pytest.fixture
def alice(app: LocalApp) -> Client:
    return new_client(app)


@pytest.fixture
def bob(app: LocalApp) -> Client:
    return new_client(app)
