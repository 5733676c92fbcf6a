"""The whole app on one machine: local AWS (moto server) with the stack's tables, buckets, parameters and user pool;
the provider fakes; every function of the manifest in the local Lambda runtime; the HTTP and WebSocket gateways;
S3 events and the Lambda Invoke API wired without Docker. Used by `make dev`, the function tests and the benchmark.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, get_args

from functions.manifest import (
    FUNCTIONS,
    IMAGE_MODEL_ENV,
    SECRET_PLACEHOLDER,
    TRANSCRIPTION_MODEL_ENV,
    USER_POOL_CLIENT_ID_ENV,
    USER_POOL_ID_ENV,
    FunctionSpec,
    SecretName,
    function_environment,
    parameter_path,
)
from functions.shared.tokens import TokenVerifier
from functions.site_spec import MEDIA_CORS, ClientOrigins, site_config
from local.aws import LocalAws, create_buckets, create_tables
from local.cognito import LocalUserPool, create_user_pool
from local.cognito_front import CognitoFront
from local.fakes import openai_api, openweather_api
from local.http_gateway import INTEGRATION_TIMEOUT_S, HttpGateway
from local.http_server import ServedApp
from local.lambda_runtime import LambdaRuntime, invoke_api, worker_base_environment
from local.dynamodb_streams import StreamPump
from local.s3_events import S3EventPump
from local.services import MotoServer
from local.site_build import ensure_built
from local.site_server import COGNITO_PATH, SiteServer
from local.websocket_gateway import WebSocketGateway

OFFLINE_KEY = "local-offline-provider"  # the fakes accept any key; this one says where it came from
DEMO_EMAIL, DEMO_PASSWORD = "demo@mumble.local", "Mumble-demo-2026"


@dataclass
class LocalAppOptions:
    stage: str = "local"
    function_timeouts: Mapping[str, float] = field(default_factory=dict)
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    log_dir: Path | None = None
    openai_api_key: str | None = None  # with keys, `openai_base_url` / `openweather_base_url` say where to go
    openweather_api_key: str | None = None
    openai_base_url: str | None = None
    openweather_base_url: str | None = None
    image_model: str = "gpt-image-1"
    transcription_model: str = "gpt-4o-mini-transcribe"
    legacy_mongo_uri: str | None = None  # the legacy MongoDB (with its database): turns on the reverse sync
    serve_site: bool = False  # the web client (built if stale) with /api, /config.json and Cognito on one origin


class LocalApp:
    def __init__(self, options: LocalAppOptions | None = None, moto: MotoServer | None = None) -> None:
        self.options = options or LocalAppOptions()
        self._own_moto = moto is None
        self.moto = moto or MotoServer()
        self.log_dir = self.options.log_dir or Path(tempfile.mkdtemp(prefix="mumble-local-"))
        self.openai = openai_api.make_app()
        self.openweather = openweather_api.make_app()
        self._started: list[Any] = []

    # -- lifecycle
    def start(self) -> "LocalApp":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self._own_moto:
            self.moto.start()
            self._started.append(self.moto)
        self.aws = LocalAws(self.moto.endpoint_url, stage=self.options.stage)
        self.tables = create_tables(self.aws)
        self.buckets = create_buckets(self.aws)
        self._put_parameters()
        self.user_pool: LocalUserPool = create_user_pool(self.aws)
        self.openai_server = self._serve(self.openai, "openai")
        self.openweather_server = self._serve(self.openweather, "openweather")
        self.runtime = LambdaRuntime(self.function_environment, self.log_dir / "functions",
                                     timeouts=self.options.function_timeouts, retry_delays=self.options.retry_delays)
        self._started.append(self.runtime)
        self.lambda_api = self._serve(invoke_api(self.runtime), "lambda")
        self.websocket = WebSocketGateway(self.runtime).start()
        self._started.append(self.websocket)
        self.verifier = TokenVerifier(self.user_pool.issuer, self.user_pool.client_id, self.user_pool.jwks_url)
        self.http_gateway = HttpGateway(self.runtime, self.verifier, self.options.integration_timeout_s)
        self.http = self._serve(self.http_gateway, "api")
        self.s3_events = S3EventPump(self.aws, self.runtime).start()
        self._started.append(self.s3_events)
        self.site: ServedApp | None = None
        if self.options.serve_site:
            self._serve_site()
        self.streams: StreamPump | None = None
        if self.options.legacy_mongo_uri:  # as on AWS, where only stages with a legacy origin get reverseSync
            self.streams = StreamPump(self.aws, self.runtime).start()
            self._started.append(self.streams)

    def _serve_site(self) -> None:
        """As CloudFront does: the site, /api/*, config.json (and here Cognito) on one origin; media CORS for it."""
        self.cognito_front = CognitoFront(self.user_pool, self.runtime)
        origins = ClientOrigins(media=(self.moto.endpoint_url,), websocket=(self.websocket.url,), cognito=())
        server = SiteServer(ensure_built(), self.http_gateway, self.cognito_front, origins, self.client_config)
        self.site = self._serve(server, "site")
        self.aws.client("s3").put_bucket_cors(Bucket=self.buckets["media"], CORSConfiguration={"CORSRules": [{
            "AllowedMethods": list(MEDIA_CORS.allowed_methods), "AllowedOrigins": [self.site.url],
            "AllowedHeaders": list(MEDIA_CORS.allowed_headers), "ExposeHeaders": list(MEDIA_CORS.expose_headers),
            "MaxAgeSeconds": MEDIA_CORS.max_age_seconds}]})

    def client_config(self, origin: str) -> dict[str, str]:
        """config.json as the Pulumi program writes it, with this machine's endpoints."""
        return site_config(stage=self.options.stage, region=self.aws.region, user_pool_id=self.user_pool.pool_id,
                           user_pool_client_id=self.user_pool.client_id,
                           cognito_endpoint=origin + COGNITO_PATH, websocket_url=self.websocket.url)

    def _serve(self, app: Any, name: str) -> ServedApp:
        served = ServedApp(app, name).start()
        self._started.append(served)
        return served

    def stop(self) -> None:
        while self._started:
            part = self._started.pop()
            (part.close if isinstance(part, LambdaRuntime) else part.stop)()

    def __enter__(self) -> "LocalApp":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration
    def _put_parameters(self) -> None:
        ssm = self.aws.client("ssm")
        keys = {"openaiApiKey": self.options.openai_api_key or OFFLINE_KEY,
                "openweatherApiKey": self.options.openweather_api_key or OFFLINE_KEY,
                "legacyMongoUri": self.options.legacy_mongo_uri or SECRET_PLACEHOLDER,
                "cursorKey": secrets.token_urlsafe(32)}
        for secret, value in keys.items():
            ssm.put_parameter(Name=parameter_path(self.options.stage, secret), Type="SecureString", Value=value,
                              Overwrite=True)

    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """What the deployed function would get (manifest names), pointed at the local services."""
        shared = {
            "POWERTOOLS_SERVICE_NAME": "mumble", "POWERTOOLS_METRICS_NAMESPACE": "Mumble",
            IMAGE_MODEL_ENV: self.options.image_model, TRANSCRIPTION_MODEL_ENV: self.options.transcription_model,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_api.url,
            "OPENAI_BASE_URL": self.options.openai_base_url if self.options.openai_api_key
            else f"{self.openai_server.url}/v1",
            "OPENWEATHER_BASE_URL": self.options.openweather_base_url if self.options.openweather_api_key
            else self.openweather_server.url,
            **self.aws.environment(),
        }
        env = function_environment(
            spec, self.options.stage, tables=self.tables, buckets=self.buckets,
            parameters={s: parameter_path(self.options.stage, s) for s in get_args(SecretName)},
            function_names={spec.name: spec.name for spec in FUNCTIONS},
            websocket_endpoint=self.websocket.management_url,
            user_pool={USER_POOL_ID_ENV: self.user_pool.pool_id, USER_POOL_CLIENT_ID_ENV: self.user_pool.client_id,
                       "COGNITO_JWKS_URL": self.user_pool.jwks_url},
            shared={k: v for k, v in shared.items() if v})
        return worker_base_environment(env)

    # -- conveniences for people and tests
    @property
    def api_url(self) -> str:
        return f"{self.http.url}/api/v1"

    def user(self, email: str, password: str = DEMO_PASSWORD, legacy_id: str | None = None) -> dict[str, str]:
        """Create a confirmed user and sign them in: their tokens."""
        self.user_pool.create_user(email, password, legacy_id)
        return self.user_pool.sign_in(email, password)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every event has run its course: S3 notifications delivered, async invocations (and their
        retries) finished. Tests call it before looking at what the background work produced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.s3_events.queued() == 0 and self.runtime.wait_idle(deadline - time.monotonic()) \
                    and self.s3_events.queued() == 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"background work still running after {timeout} s")

    def run_schedule(self, function: str) -> Any:
        """What EventBridge would send on a schedule tick, delivered now (synchronously, for its answer)."""
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "000000000000", "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "region": self.aws.region, "resources": [f"arn:aws:events:{self.aws.region}:000000000000:rule/"
                                                          f"{function}"], "detail": {}}
        return self.runtime.invoke(function, event)
