"""The function manifest: every Lambda of the app, its trigger, its size and exactly what it may touch.

Pure data (no pulumi, no boto3). The Pulumi program builds each Lambda, its routes and triggers and its
least-privilege IAM policy from it; the local runtime serves the same routes from it; a function reads the names
of its tables, buckets and parameters from the environment variables named here. One file, so infra and code
cannot disagree about what a function is allowed to do.

Access is declared as (resource, actions): the IAM policy grants exactly those actions on exactly those ARNs
(a table *and the indexes named*, a bucket *prefix*, a parameter, another function) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

API_PREFIX = "/api/v1"

HttpMethod = Literal["GET", "POST", "PUT", "DELETE", "PATCH"]
SecretName = Literal["openaiApiKey", "openweatherApiKey", "legacyMongoUri", "cursorKey"]
# Secrets the deploy program generates itself (not Pulumi config): random once, kept across deploys.
GENERATED_SECRETS: tuple[SecretName, ...] = ("cursorKey",)


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route (payload 2.0). Every route carries the Cognito JWT authorizer unless `public`."""

    method: HttpMethod
    path: str  # without API_PREFIX, e.g. "/images/{imageId}"
    public: bool = False

    @property
    def full_path(self) -> str:
        return API_PREFIX + self.path

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.full_path}"


@dataclass(frozen=True)
class WebSocketRoute:
    """A WebSocket API route key; `$connect` is guarded by the REQUEST authorizer function."""

    route_key: str


@dataclass(frozen=True)
class S3Trigger:
    """S3 event notification from one of the stack's buckets (storage.BUCKETS) for keys under `prefix`."""

    bucket: str
    prefix: str
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule expression, e.g. rate(15 minutes)."""

    expression: str
    description: str


@dataclass(frozen=True)
class StreamTrigger:
    """A table's DynamoDB stream, consumed in batches. Failed records are reported one by one (partial batch
    response); Lambda retries from the first failure, bisecting the batch, and after `max_retries` sends the
    records' description to the stage's failure queue."""

    table: str
    batch_size: int = 100
    max_retries: int = 5
    batching_window_s: int = 1


@dataclass(frozen=True)
class TableAccess:
    """Actions on one table (tables.TABLES logical name) and, when named, on its indexes."""

    table: str
    actions: tuple[str, ...]
    indexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BucketAccess:
    """Actions on the objects under given prefixes of one bucket (storage.BUCKETS logical name)."""

    bucket: str
    prefixes: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda. `handler` is `module.function` inside the package built from `functions/`."""

    name: str
    handler: str
    description: str
    memory_mb: int = 256
    timeout_s: int = 10
    http_routes: tuple[HttpRoute, ...] = ()
    websocket_routes: tuple[WebSocketRoute, ...] = ()
    websocket_authorizer: bool = False  # the REQUEST authorizer of the WebSocket API's $connect
    s3_triggers: tuple[S3Trigger, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    cognito_trigger: str | None = None  # e.g. "UserMigration"
    tables: tuple[TableAccess, ...] = ()
    buckets: tuple[BucketAccess, ...] = ()
    secrets: tuple[SecretName, ...] = ()
    invokes: tuple[str, ...] = ()  # functions it invokes asynchronously
    pushes_to_websocket: bool = False  # execute-api:ManageConnections on the WebSocket API's @connections
    uses_user_pool: bool = False  # gets the user pool and client ids (verifies tokens itself)
    latency_sensitive: bool = False  # an API handler: gets provisioned concurrency when the stage sets some
    async_retries: int = 0  # retries of asynchronous invocations before the on-failure destination
    stream_triggers: tuple[StreamTrigger, ...] = ()
    legacy_database: bool = False  # reaches the legacy MongoDB: only on stages with a legacy origin, in its network
    environment: Mapping[str, str] = field(default_factory=dict)  # static values; names are added by infra


# --- environment variable names (infra sets them, functions and the local runtime read them) ------------------

def table_env(logical_name: str) -> str:
    """`weather-cache` -> `WEATHER_CACHE_TABLE`."""
    return logical_name.upper().replace("-", "_") + "_TABLE"


def bucket_env(logical_name: str) -> str:
    return logical_name.upper() + "_BUCKET"


def secret_env(secret: str) -> str:
    """The variable holding the SSM parameter *name* (never the value): `openaiApiKey` -> `OPENAI_API_KEY_PARAM`."""
    return _upper_snake(secret) + "_PARAM"


def function_env(name: str) -> str:
    """`generateImageWorker` -> `GENERATE_IMAGE_WORKER_FUNCTION`."""
    return _upper_snake(name) + "_FUNCTION"


def _upper_snake(camel: str) -> str:
    return "".join("_" + c if c.isupper() else c for c in camel).upper()


SECRET_PLACEHOLDER = "unset"  # the value a secret parameter holds until an operator sets the key


def parameter_path(stage: str, secret: str) -> str:
    """The SSM parameter of a secret: `/mumble/<stage>/<secret>`."""
    return f"/mumble/{stage}/{secret}"


LEGACY_ID_ATTRIBUTE = "userId"  # the Cognito custom attribute holding a migrated user's legacy id
LEGACY_ID_CLAIM = f"custom:{LEGACY_ID_ATTRIBUTE}"  # ... and its claim in the id token

STAGE_ENV = "STAGE"
WEBSOCKET_ENDPOINT_ENV = "WEBSOCKET_ENDPOINT"
USER_POOL_ID_ENV = "USER_POOL_ID"
USER_POOL_CLIENT_ID_ENV = "USER_POOL_CLIENT_ID"
IMAGE_MODEL_ENV = "OPENAI_IMAGE_MODEL"
TRANSCRIPTION_MODEL_ENV = "OPENAI_TRANSCRIPTION_MODEL"


def function_environment(spec: "FunctionSpec", stage: str, *, tables: Mapping[str, Any], buckets: Mapping[str, Any],
                         parameters: Mapping[str, Any], function_names: Mapping[str, Any],
                         websocket_endpoint: Any = None, user_pool: Mapping[str, Any] | None = None,
                         shared: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A function's environment: names only, never secrets, and only what its manifest entry declares.

    Values may be plain strings (local runtime) or deploy-time outputs (Pulumi); this decides only which names go
    where, so the deployed and the local function see the same variables.
    """
    env: dict[str, Any] = {STAGE_ENV: stage, **(shared or {}), **spec.environment}
    for access in spec.tables:
        env[table_env(access.table)] = tables[access.table]
    for stream in spec.stream_triggers:
        env[table_env(stream.table)] = tables[stream.table]  # to tell the records of its tables apart
    for bucket in spec.buckets:
        env[bucket_env(bucket.bucket)] = buckets[bucket.bucket]
    for secret in spec.secrets:
        env[secret_env(secret)] = parameters[secret]
    for target in spec.invokes:
        env[function_env(target)] = function_names[target]
    if spec.uses_user_pool and user_pool:
        env.update(user_pool)
    if spec.pushes_to_websocket and websocket_endpoint is not None:
        env[WEBSOCKET_ENDPOINT_ENV] = websocket_endpoint
    return env


# --- the actions, named once ---------------------------------------------------------------------------------

READ_ITEM = ("dynamodb:GetItem",)
QUERY = ("dynamodb:Query",)
WRITE_ITEM = ("dynamodb:PutItem", "dynamodb:UpdateItem")
DELETE_ITEM = ("dynamodb:DeleteItem",)
IDEMPOTENCY_ACCESS = TableAccess("idempotency", READ_ITEM + WRITE_ITEM + DELETE_ITEM)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="health",
        handler="functions.health.handler",
        description="GET /health: status, service, stage, version, timestamp.",
        memory_mb=128, timeout_s=3, latency_sensitive=True,
        http_routes=(HttpRoute("GET", "/health", public=True),),
    ),
    FunctionSpec(
        name="audioUpload",
        handler="functions.audio_upload.handler",
        description="POST /audio/upload: a presigned upload of the caller's audio, type and size enforced by S3.",
        latency_sensitive=True,
        http_routes=(HttpRoute("POST", "/audio/upload"),),
        buckets=(BucketAccess("media", ("audio/",), ("s3:PutObject",)),),
    ),
    FunctionSpec(
        name="speechToText",
        handler="functions.speech_to_text.handler",
        description="POST /transcriptions: transcribe the caller's uploaded audio.",
        memory_mb=512, timeout_s=29,
        http_routes=(HttpRoute("POST", "/transcriptions"),),
        buckets=(BucketAccess("media", ("audio/",), ("s3:GetObject",)),),
        secrets=("openaiApiKey",),
    ),
    FunctionSpec(
        name="generateImage",
        handler="functions.generate_image.handler",
        description="POST /generate (202 + job id, idempotent) and GET /jobs/{jobId}.",
        latency_sensitive=True,
        http_routes=(HttpRoute("POST", "/generate"), HttpRoute("GET", "/jobs/{jobId}")),
        tables=(TableAccess("jobs", READ_ITEM + WRITE_ITEM), IDEMPOTENCY_ACCESS),
        buckets=(BucketAccess("media", ("audio/",), ("s3:GetObject",)),),  # the audio must exist and be the caller's
        invokes=("generateImageWorker",),
    ),
    FunctionSpec(
        name="generateImageWorker",
        handler="functions.generate_worker.handler",
        description="The job: transcribe, weather, prompt, image, S3, image item, push the result.",
        memory_mb=1024, timeout_s=300, async_retries=1,
        tables=(
            TableAccess("jobs", READ_ITEM + WRITE_ITEM),
            TableAccess("images", ("dynamodb:PutItem",)),
            TableAccess("weather-cache", READ_ITEM + ("dynamodb:PutItem",)),
            TableAccess("connections", QUERY + DELETE_ITEM, indexes=("UserIndex",)),
        ),
        buckets=(
            BucketAccess("media", ("audio/",), ("s3:GetObject",)),
            BucketAccess("media", ("images/",), ("s3:PutObject",)),
        ),
        secrets=("openaiApiKey", "openweatherApiKey"),
        pushes_to_websocket=True,
    ),
    FunctionSpec(
        name="weatherData",
        handler="functions.weather_data.handler",
        description="GET /weather?lat&lon: OpenWeather, cached by rounded coordinates.",
        timeout_s=10, latency_sensitive=True,
        http_routes=(HttpRoute("GET", "/weather"),),
        tables=(TableAccess("weather-cache", READ_ITEM + ("dynamodb:PutItem",)),),
        secrets=("openweatherApiKey",),
    ),
    FunctionSpec(
        name="imageGallery",
        handler="functions.image_gallery.handler",
        description="GET /images, GET /images/{imageId}, DELETE /images/{imageId}.",
        memory_mb=512, latency_sensitive=True,
        http_routes=(
            HttpRoute("GET", "/images"),
            HttpRoute("GET", "/images/{imageId}"),
            HttpRoute("DELETE", "/images/{imageId}"),
        ),
        tables=(TableAccess("images", QUERY + DELETE_ITEM, indexes=("UserIndex",)),
                # a delete's tombstone (functions/shared/tombstones.py), in the delete's transaction
                TableAccess("migration-state", ("dynamodb:PutItem",))),
        buckets=(BucketAccess("media", ("images/", "thumbnails/", "audio/"), ("s3:GetObject", "s3:DeleteObject")),),
        secrets=("cursorKey",),  # signs the gallery cursor, so a tampered or crafted one is a 400
    ),
    FunctionSpec(
        name="userProfile",
        handler="functions.user_profile.handler",
        description="GET /users/me and PUT /users/me; the profile is created on first sight.",
        latency_sensitive=True,
        http_routes=(HttpRoute("GET", "/users/me"), HttpRoute("PUT", "/users/me")),
        tables=(TableAccess("users", READ_ITEM + WRITE_ITEM),),
    ),
    FunctionSpec(
        name="websocketAuthorizer",
        handler="functions.websocket_authorizer.handler",
        description="REQUEST authorizer of $connect: verifies the Cognito JWT from the query string.",
        timeout_s=5, websocket_authorizer=True, uses_user_pool=True,
    ),
    FunctionSpec(
        name="websocket",
        handler="functions.websocket.handler",
        description="$connect, $disconnect, generateImage and $default of the WebSocket API.",
        websocket_routes=tuple(WebSocketRoute(key) for key in ("$connect", "$disconnect", "generateImage", "$default")),
        tables=(
            TableAccess("connections", ("dynamodb:PutItem",) + DELETE_ITEM),
            TableAccess("jobs", READ_ITEM + WRITE_ITEM),
            IDEMPOTENCY_ACCESS,
        ),
        buckets=(BucketAccess("media", ("audio/",), ("s3:GetObject",)),),
        invokes=("generateImageWorker",),
        pushes_to_websocket=True,  # answers `$default` and bad `generateImage` messages on the socket
    ),
    FunctionSpec(
        name="imageProcessor",
        handler="functions.image_processor.handler",
        description="S3 ObjectCreated on images/: thumbnail and image metadata on the item; idempotent.",
        memory_mb=1024, timeout_s=60, async_retries=2,
        s3_triggers=(S3Trigger("media", "images/"),),
        tables=(TableAccess("images", QUERY + ("dynamodb:UpdateItem",)),),
        buckets=(
            BucketAccess("media", ("images/",), ("s3:GetObject",)),
            BucketAccess("media", ("thumbnails/",), ("s3:PutObject",)),
        ),
    ),
    FunctionSpec(
        name="maintenance",
        handler="functions.maintenance.handler",
        description="Scheduled: jobs pending too long become failed; counts reported as metrics.",
        timeout_s=120, async_retries=0,
        schedules=(Schedule("rate(15 minutes)", "Fail image jobs stuck in pending or running."),),
        tables=(TableAccess("jobs", ("dynamodb:Scan", "dynamodb:UpdateItem")),),
    ),
    FunctionSpec(
        name="reverseSync",
        handler="functions.reverse_sync.handler",
        description="Cutover: the new stack's writes to users and images, from their streams, back into MongoDB.",
        timeout_s=60, legacy_database=True,
        stream_triggers=(StreamTrigger("users"), StreamTrigger("images")),
        tables=(TableAccess("migration-state", READ_ITEM + ("dynamodb:PutItem",)),),
        secrets=("legacyMongoUri",),
    ),
    FunctionSpec(
        name="userMigration",
        handler="functions.user_migration.handler",
        description="Cognito user-migration trigger: legacy users sign in with their old password once.",
        timeout_s=5, cognito_trigger="UserMigration",
        tables=(TableAccess("users", QUERY + ("dynamodb:UpdateItem",), indexes=("EmailIndex",)),),
    ),
)

BY_NAME: Mapping[str, FunctionSpec] = {spec.name: spec for spec in FUNCTIONS}


def http_routes() -> list[tuple[HttpRoute, FunctionSpec]]:
    """Every HTTP route with the function serving it, in manifest order."""
    return [(route, spec) for spec in FUNCTIONS for route in spec.http_routes]


def websocket_routes() -> list[tuple[WebSocketRoute, FunctionSpec]]:
    return [(route, spec) for spec in FUNCTIONS for route in spec.websocket_routes]


def is_invoked_async(spec: FunctionSpec) -> bool:
    """S3, EventBridge and other functions invoke asynchronously: Lambda retries, then the failure destination."""
    return bool(spec.s3_triggers or spec.schedules) or any(spec.name in other.invokes for other in FUNCTIONS)


def manifest_problems() -> list[str]:
    """Inconsistencies a typo would cause (unknown table, bucket, index, invoked function, duplicate route)."""
    from functions.shared.storage import BUCKETS
    from functions.shared.tables import TABLES

    problems: list[str] = []
    seen_routes: set[str] = set()
    for spec in FUNCTIONS:
        for access in spec.tables:
            if access.table not in TABLES:
                problems.append(f"{spec.name}: unknown table {access.table!r}")
                continue
            for index in access.indexes:
                if index not in {i.name for i in TABLES[access.table].indexes}:
                    problems.append(f"{spec.name}: table {access.table!r} has no index {index!r}")
        for bucket_access in spec.buckets:
            if bucket_access.bucket not in BUCKETS:
                problems.append(f"{spec.name}: unknown bucket {bucket_access.bucket!r}")
            problems.extend(f"{spec.name}: bucket prefix {p!r} must end with '/'"
                            for p in bucket_access.prefixes if not p.endswith("/"))
        for target in spec.invokes:
            if target not in BY_NAME:
                problems.append(f"{spec.name}: invokes unknown function {target!r}")
        for stream in spec.stream_triggers:
            if stream.table not in TABLES or TABLES[stream.table].stream is None:
                problems.append(f"{spec.name}: stream trigger on {stream.table!r}, which has no stream")
        for trigger in spec.s3_triggers:
            if trigger.bucket not in BUCKETS:
                problems.append(f"{spec.name}: S3 trigger on unknown bucket {trigger.bucket!r}")
        for route in spec.http_routes:
            if route.route_key in seen_routes:
                problems.append(f"{spec.name}: route {route.route_key} is served twice")
            seen_routes.add(route.route_key)
        if not 128 <= spec.memory_mb <= 10240 or not 1 <= spec.timeout_s <= 900:
            problems.append(f"{spec.name}: memory 128-10240 MB and timeout 1-900 s")
        if spec.http_routes and spec.timeout_s > 29:
            problems.append(f"{spec.name}: an HTTP API integration times out after 29 s; timeout must be <= 29")
    return problems
