"""Composes the stage's stack from its typed config and exports what users and the other tools read.

Order follows the data flow: tables, media, secrets, the failure queue and the WebSocket API (whose endpoint the
pushing functions need) first; then the functions from the manifest (the user-migration trigger before the user
pool, whose ids the WebSocket authorizer needs); then everything that points at functions: HTTP API, WebSocket
routes, S3 pipeline, schedules; then the edge in front of it all, and monitoring over it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.api_gateway_account import ApiGatewayAccount
from components.auth import Auth
from components.config import StageConfig, load_stage_config
from components.data import DataTables
from components.dead_letters import FailureQueue
from components.cutover import CutoverRouter
from components.edge import Edge
from components.function import AppFunction, FunctionDependencies, physical_name
from components.http_api import HttpApi
from components.media import MediaStorage
from components.monitoring import Monitoring
from components.packaging import (BytecodeError, LayerBuildError, build_code_archive, build_layer,
                                  layer_archive_path)
from components.pipeline import ImagePipeline
from components.realtime import WebSocketApi
from components.schedules import Schedules
from components.secrets import Secrets
from functions.manifest import (FUNCTIONS, IMAGE_MODEL_ENV, TRANSCRIPTION_MODEL_ENV, USER_POOL_CLIENT_ID_ENV,
                                USER_POOL_ID_ENV)
from functions.shared import stack_outputs
from functions.site_spec import cognito_endpoint, site_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".build"
PYTHON_VERSION = "3.12"


@dataclass(frozen=True)
class BuildOptions:
    """`build_layer=False` under mocks (offline plan, tests): the layer keeps the name a real build gives it but
    is not built (and has no hash). `pulumi up` and the rehearsal build it."""

    build_layer: bool = True


def build_stack(options: BuildOptions = BuildOptions()) -> StageConfig:
    config = load_stage_config()
    stage = config.stage

    tables = DataTables("data", config)
    media = MediaStorage("media", config)
    secrets = Secrets("secrets", config)
    failures = FailureQueue("failed-invocations")
    account_settings = (ApiGatewayAccount("api-gateway-account", stage).account if config.manageApiGatewayAccount
                        else None)
    websocket = WebSocketApi("realtime", config, account_settings)

    requirements = PROJECT_ROOT / "functions" / "requirements.txt"
    try:
        code = build_code_archive(PROJECT_ROOT / "functions", BUILD_DIR, PYTHON_VERSION)
        layer_hash = (build_layer(requirements, BUILD_DIR, PYTHON_VERSION, config.lambdaArchitecture).sha256_b64
                      if options.build_layer else None)
    except (BytecodeError, LayerBuildError) as error:
        raise pulumi.RunError(str(error)) from None
    layer = aws.lambda_.LayerVersion(
        "dependencies", layer_name=f"mumble-{stage}-dependencies",
        code=pulumi.FileArchive(str(layer_archive_path(requirements, BUILD_DIR, PYTHON_VERSION,
                                                       config.lambdaArchitecture))),
        source_code_hash=layer_hash,
        compatible_runtimes=["python3.12"], compatible_architectures=[config.lambdaArchitecture],
        description=f"functions/requirements.txt for {config.lambdaArchitecture}")

    deps = FunctionDependencies(
        table_names=tables.names, table_arns=tables.arns,
        bucket_names={"media": media.name}, bucket_arns={"media": media.arn},
        parameter_names=secrets.names, parameter_arns=secrets.arns, failure_queue_arn=failures.arn,
        code=code, layer_arn=layer.arn,
        extra_environment={"POWERTOOLS_SERVICE_NAME": "mumble", "POWERTOOLS_METRICS_NAMESPACE": "Mumble",
                           IMAGE_MODEL_ENV: config.openaiImageModel,
                           TRANSCRIPTION_MODEL_ENV: config.openaiTranscriptionModel},
        websocket_endpoint=websocket.management_endpoint,
        table_stream_arns=tables.stream_arns,
    )
    # ARNs from the deterministic names, so a function may invoke one declared after it without a cycle.
    account_id = aws.get_caller_identity_output().account_id
    deps = dataclasses.replace(deps, account_id=account_id)
    # Functions that reach the legacy database exist only while there is one (a stage with a legacy origin).
    specs = [spec for spec in FUNCTIONS if config.legacyOrigin or not spec.legacy_database]
    function_arns = {spec.name: pulumi.Output.concat(
        "arn:aws:lambda:", config.region, ":", account_id,
        ":function:", physical_name(stage, spec.name)) for spec in specs}
    functions: dict[str, AppFunction] = {}
    migration_spec = next((spec for spec in specs if spec.cognito_trigger == "UserMigration"), None)
    if migration_spec:
        functions[migration_spec.name] = AppFunction(migration_spec, config, deps, function_arns)
    auth = Auth("auth", config, functions.get(migration_spec.name) if migration_spec else None)
    pool_env = {USER_POOL_ID_ENV: auth.pool_id, USER_POOL_CLIENT_ID_ENV: auth.client_id}
    for spec in specs:
        if spec.name not in functions:
            functions[spec.name] = AppFunction(
                spec, config, dataclasses.replace(deps, user_pool_environment=pool_env), function_arns)

    cors_origins = list(config.corsOrigins) + ([f"https://{config.domainName}"] if config.domainName else [])
    http_api = HttpApi("http", config, cors_origins, auth.issuer, auth.client_id, functions)
    websocket.attach_routes(functions)
    ImagePipeline("pipeline", {"media": (media.name, media.arn)}, functions, account_id)
    Schedules("schedules", config, functions)
    router = CutoverRouter("cutover", config) if config.legacyOrigin else None
    client_config = pulumi.Output.all(auth.pool_id, auth.client_id, websocket.url).apply(
        lambda values: site_config(stage=stage, region=config.region, user_pool_id=values[0],
                                   user_pool_client_id=values[1], cognito_endpoint=cognito_endpoint(config.region),
                                   websocket_url=values[2]))
    edge = Edge("edge", config, http_api.domain, PROJECT_ROOT, client_config, router)
    media.allow_browser_uploads(edge.url.apply(lambda origin: sorted({origin, *config.corsOrigins})))
    Monitoring("monitoring", config, functions, http_api.api.id, tables.names, failures.name, account_id)

    pulumi.export("stage", stage)
    pulumi.export(stack_outputs.REGION, config.region)
    pulumi.export("siteUrl", edge.url)
    pulumi.export("apiUrl", edge.url.apply(lambda url: f"{url}/api/v1"))
    pulumi.export("httpApiEndpoint", http_api.url)
    pulumi.export("websocketUrl", websocket.url)
    pulumi.export("userPoolId", auth.pool_id)
    pulumi.export("userPoolClientId", auth.client_id)
    pulumi.export(stack_outputs.USERS_TABLE, tables.names["users"])
    pulumi.export(stack_outputs.IMAGES_TABLE, tables.names["images"])
    pulumi.export(stack_outputs.MIGRATION_STATE_TABLE, tables.names["migration-state"])
    pulumi.export("tableNames", tables.names)
    pulumi.export(stack_outputs.MEDIA_BUCKET, media.name)
    pulumi.export("siteBucketName", edge.site_bucket.name)
    pulumi.export("distributionId", edge.distribution.id)
    pulumi.export("failureQueueName", failures.name)
    if router is not None:
        pulumi.export(stack_outputs.CUTOVER_STORE_ARN, router.store.arn)
    return config
