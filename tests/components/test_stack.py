"""The whole program under Pulumi's mocks, for every stage: what a reviewer of `pulumi preview` would check."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from components.offline import PLACEHOLDER_SECRET, OfflinePlan, run_offline, stage_config
from functions.manifest import FUNCTIONS, http_routes, is_invoked_async, websocket_routes
from functions.shared import stack_outputs
from functions.shared.tables import TABLES
from policy.rules import evaluate

STAGES = ("dev", "staging", "prod")


@pytest.fixture(scope="module", params=STAGES)
def plan(request: pytest.FixtureRequest) -> OfflinePlan:
    return run_offline(request.param)


@pytest.fixture(scope="module")
def plans() -> dict[str, OfflinePlan]:
    return {stage: run_offline(stage) for stage in STAGES}


def _statements(document: Any) -> list[dict]:
    return json.loads(document)["Statement"]


def deployed(plan: OfflinePlan) -> list:
    """The manifest's functions a stage gets: those reaching the legacy database only with a legacy origin."""
    has_legacy = bool(stage_config(plan.stage).get("mumble:legacyOrigin"))
    return [spec for spec in FUNCTIONS if has_legacy or not spec.legacy_database]


def _function(plan: OfflinePlan, name: str) -> dict:
    return next(r.inputs for r in plan.of_type("aws:lambda/function:Function")
                if r.inputs["name"] == f"mumble-{plan.stage}-{name}")


def test_every_policy_rule_passes(plan: OfflinePlan) -> None:
    results = evaluate([(r.type, r.inputs, r.urn, r.property_dependencies) for r in plan.resources if r.custom])
    assert {rule: problems for rule, problems in results.items() if problems} == {}


def test_components_parent_their_children_and_use_the_mumble_type_tokens(plan: OfflinePlan) -> None:
    components = [r for r in plan.resources if not r.custom]
    assert components and all(re.fullmatch(r"mumble:[a-z_]+:[A-Z][A-Za-z]+", r.type) for r in components)
    top_level = [r for r in plan.resources if r.custom and r.parent.split("::")[2] == "pulumi:pulumi:Stack"]
    # Only the shared dependency layer sits at the top; everything else belongs to a component.
    assert [r.type for r in top_level] == ["aws:lambda/layerVersion:LayerVersion"]


def test_outputs_name_what_users_and_the_migration_read(plan: OfflinePlan) -> None:
    for key in ("siteUrl", "apiUrl", "websocketUrl", "userPoolId", "userPoolClientId", "distributionId",
                stack_outputs.USERS_TABLE, stack_outputs.IMAGES_TABLE, stack_outputs.MIGRATION_STATE_TABLE,
                stack_outputs.MEDIA_BUCKET, stack_outputs.REGION):
        assert plan.outputs.get(key), key
    assert plan.outputs[stack_outputs.USERS_TABLE] == f"mumble-{plan.stage}-users"
    assert plan.outputs["apiUrl"].startswith("https://") and plan.outputs["apiUrl"].endswith("/api/v1")
    assert plan.outputs["websocketUrl"].startswith("wss://")


# --- storage ---------------------------------------------------------------------------------------------------

def test_buckets_are_private_encrypted_and_tls_only(plan: OfflinePlan) -> None:
    buckets = {r.inputs["bucket"] for r in plan.of_type("aws:s3/bucket:Bucket")}
    assert len(buckets) == 2
    blocks = {r.inputs["bucket"]: r.inputs for r in plan.of_type(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")}
    policies = {r.inputs["bucket"]: _statements(r.inputs["policy"]) for r in plan.of_type(
        "aws:s3/bucketPolicy:BucketPolicy")}
    ownership = {r.inputs["bucket"]: r.inputs["rule"]["objectOwnership"] for r in plan.of_type(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls")}
    for bucket in buckets:
        assert all(blocks[bucket][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                               "restrictPublicBuckets"))
        assert ownership[bucket] == "BucketOwnerEnforced"
        deny = [s for s in policies[bucket] if s["Effect"] == "Deny"]
        assert {json.dumps(s["Condition"], sort_keys=True) for s in deny} == {
            '{"Bool": {"aws:SecureTransport": "false"}}', '{"NumericLessThan": {"s3:TlsVersion": "1.2"}}'}
        assert not [s for s in policies[bucket] if s["Effect"] == "Allow" and s["Principal"] == "*"]


def test_media_bucket_versioning_lifecycle_and_cors_from_the_site_only(plan: OfflinePlan) -> None:
    media = plan.outputs[stack_outputs.MEDIA_BUCKET]
    assert plan.one("aws:s3/bucketVersioning:BucketVersioning", "media").inputs["bucket"] == media
    rules = {r["id"]: r for r in plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                                          "media").inputs["rules"]}
    assert rules["abort-incomplete-multipart"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 1
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] > 0
    assert rules["expire-abandoned-audio"]["filter"]["prefix"] == "audio/"
    cors = plan.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration", "media").inputs["corsRules"]
    assert cors[0]["allowedMethods"] == ["PUT"]
    assert plan.outputs["siteUrl"] in cors[0]["allowedOrigins"]
    assert ("*" in cors[0]["allowedOrigins"]) == (plan.stage == "dev")


def test_tables_follow_the_specs_and_the_stage(plan: OfflinePlan) -> None:
    config = stage_config(plan.stage)
    tables = {r.inputs["name"]: r for r in plan.of_type("aws:dynamodb/table:Table")}
    assert set(tables) == {spec.physical_name(plan.stage) for spec in TABLES.values()}
    for spec in TABLES.values():
        table = tables[spec.physical_name(plan.stage)]
        props = table.inputs
        assert props["billingMode"] == "PAY_PER_REQUEST" and props["serverSideEncryption"]["enabled"]
        assert props["hashKey"] == spec.hash_key.name
        assert props.get("rangeKey") == (spec.range_key.name if spec.range_key else None)
        assert {i["name"] for i in props.get("globalSecondaryIndexes", [])} == {i.name for i in spec.indexes}
        assert props["pointInTimeRecovery"]["enabled"] == (config["mumble:pointInTimeRecovery"] == "true")
        assert props["deletionProtectionEnabled"] == (plan.stage == "prod")
        assert (props.get("streamViewType") == "NEW_AND_OLD_IMAGES") == (spec.logical_name in ("users", "images"))
        assert props.get("ttl", {}).get("attributeName") == spec.ttl_attribute
        assert table.protect == table.retain_on_delete == (plan.stage == "prod")
        warm = int(config.get("mumble:warmWriteUnitsPerSecond", "0"))
        expected = {"writeUnitsPerSecond": warm} if warm and spec.bulk_loaded else None
        assert props.get("warmThroughput") == expected, spec.logical_name
        for index in props.get("globalSecondaryIndexes", []):
            assert index.get("warmThroughput") == expected, index["name"]  # a cold index throttles the table
    if plan.stage == "prod":
        assert tables["mumble-prod-images"].inputs["warmThroughput"]["writeUnitsPerSecond"] >= 10_000


# --- functions ---------------------------------------------------------------------------------------------------

def test_one_lambda_per_manifest_entry_with_manifest_size_and_stage_logs(plan: OfflinePlan) -> None:
    retention = int(stage_config(plan.stage)["mumble:logRetentionDays"])
    log_groups = {r.inputs["name"]: r.inputs for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for spec in deployed(plan):
        function = _function(plan, spec.name)
        assert function["runtime"] == "python3.12" and function["architectures"] == ["arm64"]
        assert (function["memorySize"], function["timeout"], function["handler"]) == (
            spec.memory_mb, spec.timeout_s, spec.handler)
        group = function["loggingConfig"]["logGroup"]
        assert log_groups[group]["retentionInDays"] == retention and function["loggingConfig"]["logFormat"] == "JSON"
        assert len(function["layers"]) == 1
    assert len(plan.of_type("aws:lambda/function:Function")) == len(deployed(plan))


def test_each_role_grants_exactly_what_the_manifest_declares(plan: OfflinePlan) -> None:
    policies = {r.name: _statements(r.inputs["policy"]) for r in plan.of_type("aws:iam/rolePolicy:RolePolicy")}
    for spec in deployed(plan):
        statements = policies[spec.name]
        granted = {(action, resource) for s in statements for action in s["Action"] for resource in s["Resource"]}
        expected = set()
        for access in spec.tables:
            table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/mumble-{plan.stage}-{access.table}"
            for action in access.actions:
                expected |= {(action, table_arn)} | {(action, f"{table_arn}/index/{i}") for i in access.indexes}
        for access in spec.buckets:
            bucket = plan.outputs[stack_outputs.MEDIA_BUCKET]
            expected |= {(a, f"arn:aws:s3:::{bucket}/{p}*") for a in access.actions for p in access.prefixes}
        expected |= {("ssm:GetParameter", f"arn:aws:ssm:us-east-1:123456789012:parameter/mumble/{plan.stage}/{s}")
                     for s in spec.secrets}
        expected |= {("lambda:InvokeFunction",
                      f"arn:aws:lambda:us-east-1:123456789012:function:mumble-{plan.stage}-{t}") for t in spec.invokes}
        for trigger in spec.stream_triggers:
            stream = f"arn:aws:dynamodb:us-east-1:123456789012:table/mumble-{plan.stage}-{trigger.table}/stream/"
            expected |= {(a, stream + "2026-01-01T00:00:00.000") for a in (
                "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams")}
        rest = {(a, r) for a, r in granted - expected if not a.startswith("logs:") and a != "sqs:SendMessage"}
        assert granted >= expected and rest == set(), spec.name
        logs = {r for a, r in granted if a.startswith("logs:")}
        assert logs == {f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mumble-{plan.stage}-{spec.name}",
                        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mumble-{plan.stage}-{spec.name}:*"}
        assert any(a == "sqs:SendMessage" for a, _ in granted) == (is_invoked_async(spec) or
                                                                   bool(spec.stream_triggers))


def test_only_pushing_functions_may_manage_websocket_connections(plan: OfflinePlan) -> None:
    pushers = {r.name.removeprefix("realtime-").removesuffix("-push") for r in plan.of_type(
        "aws:iam/rolePolicy:RolePolicy") if "execute-api:ManageConnections" in r.inputs["policy"]}
    assert pushers == {spec.name for spec in FUNCTIONS if spec.pushes_to_websocket}
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-push"))
    assert all(resource.endswith("/live/POST/@connections/*") or resource.endswith("/live/DELETE/@connections/*")
               for s in _statements(policy.inputs["policy"]) for resource in s["Resource"])


def test_no_secret_value_in_any_lambda_environment_or_output(plan: OfflinePlan) -> None:
    for spec in deployed(plan):
        env = _function(plan, spec.name)["environment"]["variables"]
        assert PLACEHOLDER_SECRET not in json.dumps(env)
        for secret in spec.secrets:
            assert any(value == f"/mumble/{plan.stage}/{secret}" for value in env.values())
    assert PLACEHOLDER_SECRET not in json.dumps(plan.outputs)
    parameters = plan.of_type("aws:ssm/parameter:Parameter")
    has_legacy = bool(stage_config(plan.stage).get("mumble:legacyOrigin"))
    assert {p.inputs["type"] for p in parameters} == {"SecureString"}
    assert {p.inputs["name"].rsplit("/", 1)[1] for p in parameters} == {
        "openaiApiKey", "openweatherApiKey", "cursorKey"} | ({"legacyMongoUri"} if has_legacy else set())
    (generated,) = [p for p in parameters if p.inputs["name"].endswith("/cursorKey")]
    assert generated.ignore_changes == ("value",)  # random once, then kept: open cursors stay valid


def test_async_functions_have_bounded_retries_and_a_failure_destination(plan: OfflinePlan) -> None:
    configs = {r.name: r.inputs for r in plan.of_type(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")}
    assert set(configs) == {spec.name for spec in FUNCTIONS if is_invoked_async(spec)}
    for spec in deployed(plan):
        if spec.name in configs:
            assert configs[spec.name]["maximumRetryAttempts"] == spec.async_retries <= 2
            assert configs[spec.name]["destinationConfig"]["onFailure"]["destination"].startswith("arn:aws:sqs:")


def test_reverse_sync_consumes_both_streams_with_partial_failures_and_a_failure_queue(
        plans: dict[str, OfflinePlan]) -> None:
    assert not [r for r in plans["dev"].of_type("aws:lambda/function:Function")
                if r.inputs["name"].endswith("-reverseSync")]
    assert not plans["dev"].of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    plan = plans["prod"]
    mappings = {r.name: r.inputs for r in plan.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")}
    assert set(mappings) == {"reverseSync-users", "reverseSync-images"}
    for table in ("users", "images"):
        mapping = mappings[f"reverseSync-{table}"]
        assert mapping["eventSourceArn"].endswith(f"table/mumble-prod-{table}/stream/2026-01-01T00:00:00.000")
        assert mapping["functionName"].endswith(":function:mumble-prod-reverseSync")
        assert mapping["startingPosition"] == "TRIM_HORIZON" and mapping["bisectBatchOnFunctionError"]
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 0 < mapping["maximumRetryAttempts"] <= 10
        assert mapping["destinationConfig"]["onFailure"]["destinationArn"].startswith("arn:aws:sqs:")
    function = _function(plan, "reverseSync")
    assert "vpcConfig" not in function or not function["vpcConfig"]  # no network configured for prod here
    env = function["environment"]["variables"]
    assert env["LEGACY_MONGO_URI_PARAM"] == "/mumble/prod/legacyMongoUri"
    assert env["USERS_TABLE"] == "mumble-prod-users" and env["IMAGES_TABLE"] == "mumble-prod-images"


def test_reverse_sync_runs_in_the_legacy_network_when_configured() -> None:
    config = {**stage_config("staging"), "mumble:legacySubnetIds": '["subnet-0a1b2c3d", "subnet-0e1f2a3b"]',
              "mumble:legacySecurityGroupIds": '["sg-0c1d2e3f"]'}
    plan = run_offline("staging", config)
    function = _function(plan, "reverseSync")
    assert function["vpcConfig"] == {"subnetIds": ["subnet-0a1b2c3d", "subnet-0e1f2a3b"],
                                     "securityGroupIds": ["sg-0c1d2e3f"]}
    statements = {s["Sid"]: s for s in _statements(plan.one("aws:iam/rolePolicy:RolePolicy", "reverseSync")
                                                   .inputs["policy"])}
    prefix = "arn:aws:ec2:us-east-1:123456789012"
    assert set(statements["VpcInterfaces"]["Resource"]) == {
        f"{prefix}:network-interface/*", f"{prefix}:subnet/subnet-0a1b2c3d", f"{prefix}:subnet/subnet-0e1f2a3b",
        f"{prefix}:security-group/sg-0c1d2e3f"}
    assert statements["VpcDescribe"]["Action"] == ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    others = [r.inputs["name"] for r in plan.of_type("aws:lambda/function:Function") if r.inputs.get("vpcConfig")]
    assert others == ["mumble-staging-reverseSync"]  # nothing else moves into the legacy network
    results = evaluate([(r.type, r.inputs, r.urn, r.property_dependencies) for r in plan.resources if r.custom])
    assert {rule: problems for rule, problems in results.items() if problems} == {}


def test_provisioned_concurrency_only_where_the_stage_asks(plans: dict[str, OfflinePlan]) -> None:
    assert not plans["dev"].of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    prod = plans["prod"].of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert {r.name for r in prod} == {spec.name for spec in FUNCTIONS if spec.latency_sensitive}
    assert {r.inputs["provisionedConcurrentExecutions"] for r in prod} == {2}
    # The routes then target the alias, which the permissions name as qualifier.
    health = next(r for r in plans["prod"].of_type("aws:apigatewayv2/integration:Integration")
                  if r.name == "http-health")
    assert health.inputs["integrationUri"].endswith(":function:mumble-prod-health:live/invocations")


# --- APIs and auth -------------------------------------------------------------------------------------------------

def test_http_routes_equal_the_manifest_and_all_but_health_need_the_jwt(plan: OfflinePlan) -> None:
    routes = {r.inputs["routeKey"]: r.inputs for r in plan.of_type("aws:apigatewayv2/route:Route")
              if r.parent.endswith("mumble:http_api:HttpApi::http")}
    assert set(routes) == {route.route_key for route, _ in http_routes()}
    authorizer = plan.one("aws:apigatewayv2/authorizer:Authorizer", "http")
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"]["issuer"] == (
        f"https://cognito-idp.us-east-1.amazonaws.com/{plan.outputs['userPoolId']}")
    assert authorizer.inputs["jwtConfiguration"]["audiences"] == [plan.outputs["userPoolClientId"]]
    for route, _ in http_routes():
        props = routes[route.route_key]
        if route.public:
            assert props["authorizationType"] == "NONE" and route.route_key == "GET /api/v1/health"
        else:
            assert props["authorizationType"] == "JWT" and props["authorizerId"] == "http-id"


def test_http_api_integrations_stage_cors_and_permissions(plan: OfflinePlan) -> None:
    for integration in (r for r in plan.of_type("aws:apigatewayv2/integration:Integration")
                        if r.name.startswith("http-")):
        assert integration.inputs["payloadFormatVersion"] == "2.0"
        assert integration.inputs["integrationType"] == "AWS_PROXY"
    stage = plan.one("aws:apigatewayv2/stage:Stage", "http").inputs
    config = stage_config(plan.stage)
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == int(config["mumble:apiThrottleRateLimit"])
    assert json.loads(stage["accessLogSettings"]["format"])["status"] == "$context.status"
    cors = plan.one("aws:apigatewayv2/api:Api", "http").inputs.get("corsConfiguration", {})
    assert ("*" in cors.get("allowOrigins", [])) == (plan.stage == "dev")
    api_permissions = [r.inputs for r in plan.of_type("aws:lambda/permission:Permission")
                       if r.name.startswith("http-")]
    assert len(api_permissions) == len(http_routes())
    for permission in api_permissions:
        assert re.fullmatch(r"arn:aws:execute-api:us-east-1:123456789012:\w+/\*/(GET|POST|PUT|DELETE)/api/v1/.+",
                            permission["sourceArn"])


def test_websocket_api_routes_and_request_authorizer(plan: OfflinePlan) -> None:
    routes = {r.inputs["routeKey"]: r.inputs for r in plan.of_type("aws:apigatewayv2/route:Route")
              if r.parent.endswith("mumble:realtime:WebSocketApi::realtime")}
    assert set(routes) == {route.route_key for route, _ in websocket_routes()}
    authorizer = plan.one("aws:apigatewayv2/authorizer:Authorizer", "realtime").inputs
    assert authorizer["authorizerType"] == "REQUEST"
    assert authorizer["identitySources"] == ["route.request.querystring.token"]
    assert routes["$connect"]["authorizationType"] == "CUSTOM"
    assert all(props["authorizationType"] == "NONE" for key, props in routes.items() if key != "$connect")
    env = _function(plan, "websocketAuthorizer")["environment"]["variables"]
    assert env["USER_POOL_ID"] == plan.outputs["userPoolId"]


def test_user_pool_client_and_migration_trigger(plan: OfflinePlan) -> None:
    pool = plan.one("aws:cognito/userPool:UserPool", "auth")
    assert pool.inputs["usernameAttributes"] == ["email"]
    assert pool.inputs["deletionProtection"] == ("ACTIVE" if plan.stage == "prod" else "INACTIVE")
    assert pool.inputs["lambdaConfig"]["userMigration"].endswith(f":function:mumble-{plan.stage}-userMigration")
    assert pool.inputs["passwordPolicy"]["minimumLength"] >= 10
    client = plan.one("aws:cognito/userPoolClient:UserPoolClient", "auth").inputs
    assert client["generateSecret"] is False and "ALLOW_USER_PASSWORD_AUTH" in client["explicitAuthFlows"]
    permission = plan.one("aws:lambda/permission:Permission", "auth-user-migration").inputs
    assert permission["principal"] == "cognito-idp.amazonaws.com" and permission["sourceArn"].endswith(
        pool.inputs["arn"].split(":")[-1])


def test_image_pipeline_and_schedules(plan: OfflinePlan) -> None:
    notification = plan.one("aws:s3/bucketNotification:BucketNotification", "pipeline-media").inputs
    assert [(n["filterPrefix"], n["events"]) for n in notification["lambdaFunctions"]] == [
        ("images/", ["s3:ObjectCreated:*"])]
    assert notification["lambdaFunctions"][0]["lambdaFunctionArn"].endswith(f"mumble-{plan.stage}-imageProcessor")
    rules = plan.of_type("aws:cloudwatch/eventRule:EventRule")
    assert [r.inputs["scheduleExpression"] for r in rules] == [
        s.expression for spec in FUNCTIONS for s in spec.schedules]


# --- edge ----------------------------------------------------------------------------------------------------------

def test_cloudfront_serves_site_through_oac_and_api_under_the_same_domain(plan: OfflinePlan) -> None:
    distribution = plan.one("aws:cloudfront/distribution:Distribution", "edge").inputs
    origins = {o["originId"]: o for o in distribution["origins"]}
    assert origins["site"]["originAccessControlId"] and "s3." in origins["site"]["domainName"]
    assert origins["api"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert distribution["httpVersion"] == "http2and3"
    # The default certificate: CloudFront uses its TLSv1 policy whatever is written, so nothing is claimed.
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    default = distribution["defaultCacheBehavior"]
    (api,) = distribution["orderedCacheBehaviors"]
    assert default["viewerProtocolPolicy"] == api["viewerProtocolPolicy"] == "redirect-to-https"
    assert api["pathPattern"] == "/api/*" and api["targetOriginId"] == "api"
    assert default["responseHeadersPolicyId"] and api["responseHeadersPolicyId"]
    assert default["functionAssociations"][0]["eventType"] == "viewer-request"
    oac = plan.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")[0].inputs
    assert (oac["signingBehavior"], oac["originAccessControlOriginType"]) == ("always", "s3")
    site_policy = next(_statements(r.inputs["policy"]) for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
                       if r.inputs["bucket"] == plan.outputs["siteBucketName"])
    read = next(s for s in site_policy if s["Effect"] == "Allow")
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Condition"]["StringEquals"]["AWS:SourceArn"].endswith("distribution/edge-id")


def test_a_stage_without_legacy_origin_gets_no_router(plans: dict[str, OfflinePlan]) -> None:
    plan = plans["dev"]
    assert not plan.of_type("aws:cloudfront/keyValueStore:KeyValueStore")
    (spa,) = plan.of_type("aws:cloudfront/function:Function")
    assert "spaUri" in spa.inputs["code"] and "import cf" not in spa.inputs["code"]
    distribution = plan.one("aws:cloudfront/distribution:Distribution", "edge").inputs
    assert {o["originId"] for o in distribution["origins"]} == {"site", "api"}
    assert not distribution["orderedCacheBehaviors"][0].get("functionAssociations")
    assert stack_outputs.CUTOVER_STORE_ARN not in plan.outputs


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_a_stage_with_legacy_origin_routes_every_behaviour_through_the_store(
        plans: dict[str, OfflinePlan], stage: str) -> None:
    plan = plans[stage]
    (store,) = plan.of_type("aws:cloudfront/keyValueStore:KeyValueStore")
    functions = {r.inputs["name"]: r.inputs for r in plan.of_type("aws:cloudfront/function:Function")}
    router = functions[f"mumble-{stage}-cutover-router"]
    visitor = functions[f"mumble-{stage}-visitor-cookie"]
    assert set(functions) == {router["name"], visitor["name"]}
    assert router["runtime"] == visitor["runtime"] == "cloudfront-js-2.0" and router["publish"]
    assert router["code"].startswith("import cf from 'cloudfront';")
    assert router["keyValueStoreAssociations"] == [store.inputs["arn"]] and not visitor.get(
        "keyValueStoreAssociations")
    assert plan.outputs[stack_outputs.CUTOVER_STORE_ARN] == store.inputs["arn"]

    distribution = plan.one("aws:cloudfront/distribution:Distribution", "edge").inputs
    origins = {o["originId"]: o for o in distribution["origins"]}
    assert origins["legacy"]["domainName"] == stage_config(stage)["mumble:legacyOrigin"]
    assert origins["legacy"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    function_arns = {r.inputs["arn"]: r.inputs["name"] for r in plan.of_type("aws:cloudfront/function:Function")}
    for behaviour in (distribution["defaultCacheBehavior"], distribution["orderedCacheBehaviors"][0]):
        associated = {a["eventType"]: function_arns[a["functionArn"]] for a in behaviour["functionAssociations"]}
        assert associated == {"viewer-request": router["name"], "viewer-response": visitor["name"]}

    (policy,) = plan.of_type("aws:cloudfront/cachePolicy:CachePolicy")
    assert distribution["defaultCacheBehavior"]["cachePolicyId"] == f"{policy.name}-id"
    keyed = policy.inputs["parametersInCacheKeyAndForwardedToOrigin"]
    assert keyed["headersConfig"] == {"headerBehavior": "whitelist", "headers": {"items": ["x-mumble-cohort"]}}
    # The legacy cohort: everything forwarded, cached only as the origin says, never across cohorts or sessions.
    site = distribution["defaultCacheBehavior"]
    assert set(site["allowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
    assert site["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # all viewer values but Host
    assert (policy.inputs["minTtl"], policy.inputs["defaultTtl"]) == (0, 0)
    assert keyed["cookiesConfig"] == {"cookieBehavior": "allExcept", "cookies": {"items": ["mumble-vid",
                                                                                           "mumble-cohort"]}}
    assert keyed["queryStringsConfig"] == {"queryStringBehavior": "all"}
    # The new site's files keep their caching: every object says how long it may be cached.
    assert all(o.inputs["cacheControl"] for o in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2"))


def test_without_a_router_the_site_behaviour_stays_read_only_and_cached() -> None:
    plan = run_offline("dev")
    site = plan.one("aws:cloudfront/distribution:Distribution", "edge").inputs["defaultCacheBehavior"]
    assert site["allowedMethods"] == ["GET", "HEAD", "OPTIONS"] and not site.get("originRequestPolicyId")
    assert site["cachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"  # the managed CachingOptimized


def test_the_store_keys_start_at_the_stage_values_and_ignore_later_changes() -> None:
    config = {**stage_config("staging"), "mumble:cutoverInitialWeight": "5", "mumble:cutoverSalt": "pepper"}
    plan = run_offline("staging", config)
    keys = {r.inputs["key"]: r for r in plan.of_type("aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey")}
    assert {k: r.inputs["value"] for k, r in keys.items()} == {"weight": "5", "salt": "pepper"}
    assert all(r.ignore_changes == ("value",) for r in keys.values())
    (store,) = plan.of_type("aws:cloudfront/keyValueStore:KeyValueStore")
    assert all(r.inputs["keyValueStoreArn"] == store.inputs["arn"] for r in keys.values())


def _built_site(root, stamp: bool = True):
    """A web-client directory with a build in dist/ (stamped as `make site` stamps it)."""
    from functions.site_spec import BUILD_STAMP, source_digest

    (root / "src").mkdir(parents=True)
    (root / "src" / "main.tsx").write_text("export {};")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html>")
    (dist / "assets" / "app.3f9c2a1be4.js").write_text("1")
    (dist / "favicon.svg").write_text("<svg/>")
    (dist / ".DS_Store").write_text("x")
    if stamp:
        (dist / BUILD_STAMP).write_text(source_digest(root))
    return root


def test_site_files_get_content_types_and_cache_headers(tmp_path) -> None:
    plan = run_offline("dev", {**stage_config("dev"), "mumble:siteDir": str(_built_site(tmp_path))})
    files = {r.inputs["key"]: r.inputs for r in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert set(files) == {"index.html", "assets/app.3f9c2a1be4.js", "favicon.svg", "config.json"}
    assert files["index.html"]["cacheControl"] == "no-cache"
    assert files["index.html"]["contentType"] == "text/html; charset=utf-8"
    assert files["assets/app.3f9c2a1be4.js"]["cacheControl"] == "public, max-age=31536000, immutable"
    assert files["favicon.svg"]["contentType"].startswith("image/svg+xml")


def test_config_json_carries_the_stage_settings_uncached() -> None:
    import json

    from functions.site_spec import CONFIG_KEYS

    plan = run_offline("staging")
    (config,) = [r.inputs for r in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
                 if r.inputs["key"] == "config.json"]
    assert config["cacheControl"] == "no-cache" and config["contentType"].startswith("application/json")
    settings = json.loads(config["content"])
    assert tuple(settings) == CONFIG_KEYS and all(settings.values())
    assert settings["apiBase"] == "/api/v1" and settings["websocketUrl"].startswith("wss://")
    assert settings["cognitoEndpoint"] == "https://cognito-idp.us-east-1.amazonaws.com/"


def test_a_missing_or_stale_build_is_refused_with_the_command_that_makes_it(tmp_path) -> None:
    root = _built_site(tmp_path / "unstamped", stamp=False)
    with pytest.raises(Exception, match="not built by `make site`.*run `make site`"):
        run_offline("dev", {**stage_config("dev"), "mumble:siteDir": str(root)})
    root = _built_site(tmp_path / "stale")
    (root / "src" / "main.tsx").write_text("export const changed = 1;")
    with pytest.raises(Exception, match="is stale: the sources .* changed"):
        run_offline("dev", {**stage_config("dev"), "mumble:siteDir": str(root)})


def test_a_missing_site_directory_fails_naming_the_key(tmp_path) -> None:
    with pytest.raises(Exception, match="mumble:siteDir: .* is not a directory"):
        run_offline("dev", {**stage_config("dev"), "mumble:siteDir": str(tmp_path / "nope")})


def test_custom_domain_gets_a_us_east_1_certificate_and_alias_records() -> None:
    config = {**stage_config("staging"), "mumble:domainName": "app.example.com",
              "mumble:hostedZoneId": "Z0123456789ABC"}
    plan = run_offline("staging", config)
    certificate = plan.of_type("aws:acm/certificate:Certificate")[0]
    provider = plan.of_type("pulumi:providers:aws")[0]
    assert provider.inputs["region"] == "us-east-1" and certificate.provider.startswith(provider.urn)
    distribution = plan.one("aws:cloudfront/distribution:Distribution", "edge").inputs
    assert distribution["aliases"] == ["app.example.com"]
    assert distribution["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    assert distribution["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"  # enforced here
    records = {r.inputs["type"] for r in plan.of_type("aws:route53/record:Record") if r.inputs.get("aliases")}
    assert records == {"A", "AAAA"}
    assert plan.outputs["siteUrl"] == "https://app.example.com"
    assert "https://app.example.com" in plan.one("aws:apigatewayv2/api:Api", "http").inputs[
        "corsConfiguration"]["allowOrigins"]


# --- monitoring ------------------------------------------------------------------------------------------------

def test_prod_alarms_notify_and_dev_has_none(plans: dict[str, OfflinePlan]) -> None:
    assert not plans["dev"].of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    prod = {r.inputs["name"]: r.inputs for r in plans["prod"].of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    topic = plans["prod"].of_type("aws:sns/topic:Topic")[0]
    for spec in deployed(plans["prod"]):
        for kind in ("errors", "throttles", "duration"):
            assert f"mumble-prod-{spec.name}-{kind}" in prod
    assert prod["mumble-prod-generateImageWorker-duration"]["threshold"] == 300 * 1000 * 0.8
    latency = prod["mumble-prod-api-p95-latency"]
    assert (latency["extendedStatistic"], latency["threshold"]) == ("p95", 500)
    assert "mumble-prod-api-5xx-rate" in prod and "mumble-prod-failure-queue-depth" in prod
    assert {f"mumble-prod-table-{t}-throttles" for t in TABLES} <= set(prod)
    assert all(alarm["alarmActions"] == [topic.inputs["arn"]] for alarm in prod.values())
    subscription = plans["prod"].of_type("aws:sns/topicSubscription:TopicSubscription")[0].inputs
    assert subscription["endpoint"] == stage_config("prod")["mumble:alarmEmail"]
    for stage_plan in plans.values():
        assert len(stage_plan.of_type("aws:cloudwatch/dashboard:Dashboard")) == 1


# --- config errors ---------------------------------------------------------------------------------------------

def test_a_bad_stage_config_fails_the_program_with_one_line_naming_the_key() -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_offline("prod", {**stage_config("prod"), "mumble:lambdaArchitecture": "sparc"})
    assert str(error.value).splitlines()[1:] == [
        "mumble:lambdaArchitecture: must be one of arm64, x86_64 (got 'sparc')"]


def test_missing_secrets_in_prod_fail_but_dev_runs_without_them() -> None:
    with pytest.raises(pulumi.RunError, match="mumble:openaiApiKey: is required in prod"):
        run_offline("prod", secrets={"openweatherApiKey": "x"})
    plan = run_offline("dev", secrets={})
    unset = [p for p in plan.of_type("aws:ssm/parameter:Parameter") if p.ignore_changes == ("value",)
             and not p.inputs["name"].endswith("/cursorKey")]
    assert len(unset) == 2  # placeholders an operator fills in, never overwritten by a later `pulumi up`
