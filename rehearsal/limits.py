"""The AWS limits a preview or the first `pulumi up` would run into, checked over the offline plan of a stage:
physical and generated names, CloudFront Function code size, Lambda environments, timeouts, alarm periods, log
retention, provisioned concurrency only on an alias, S3 lifecycle filters, and what CloudFront ignores.

Pulumi generates a name for a resource that sets none: the logical name, a hyphen and 7 random characters; that
generated name must fit the service's limit too.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from components.config import LOG_RETENTION_DAYS
from components.offline import OfflinePlan, PlannedResource
from rehearsal.result import Result

AUTONAME_SUFFIX = 8  # "-" + 7 characters
FUNCTION_CODE_LIMIT = 10 * 1024  # CloudFront Functions
LAMBDA_ENVIRONMENT_LIMIT = 4 * 1024
LAMBDA_RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
LIFECYCLE_FILTER_KEYS = ("and", "prefix", "tag", "objectSizeGreaterThan", "objectSizeLessThan")

# type -> (the property holding the physical name, max length, allowed characters)
NAMES: dict[str, tuple[str, int, str]] = {
    "aws:lambda/function:Function": ("name", 64, r"[A-Za-z0-9_-]+"),
    "aws:lambda/layerVersion:LayerVersion": ("layerName", 140, r"[A-Za-z0-9_-]+"),
    "aws:lambda/alias:Alias": ("name", 128, r"[A-Za-z0-9_-]+"),
    "aws:lambda/permission:Permission": ("statementId", 100, r"[A-Za-z0-9_-]+"),
    "aws:iam/role:Role": ("name", 64, r"[\w+=,.@-]+"),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128, r"[\w+=,.@-]+"),
    "aws:s3/bucket:Bucket": ("bucket", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
    "aws:dynamodb/table:Table": ("name", 255, r"[A-Za-z0-9_.-]{3,}"),
    "aws:sqs/queue:Queue": ("name", 80, r"[A-Za-z0-9_-]+(\.fifo)?"),
    "aws:sns/topic:Topic": ("name", 256, r"[A-Za-z0-9_-]+"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 255, r"[^\x00-\x1f]+"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", 255, r"[A-Za-z0-9_-]+"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", 512, r"[\w/.#-]+"),
    "aws:cloudwatch/eventRule:EventRule": ("name", 64, r"[\w.-]+"),
    "aws:cloudfront/function:Function": ("name", 64, r"[A-Za-z0-9_-]+"),
    "aws:cloudfront/keyValueStore:KeyValueStore": ("name", 64, r"[A-Za-z0-9_-]+"),
    "aws:cloudfront/cachePolicy:CachePolicy": ("name", 128, r"[A-Za-z0-9_-]+"),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": ("name", 128, r"[A-Za-z0-9_-]+"),
    "aws:cloudfront/originAccessControl:OriginAccessControl": ("name", 64, r".+"),
    "aws:ssm/parameter:Parameter": ("name", 1011, r"/?[A-Za-z0-9_.\-/]+"),
    "aws:kms/alias:Alias": ("name", 256, r"alias/[A-Za-z0-9/_-]+"),
    "aws:cognito/userPool:UserPool": ("name", 128, r"[\w\s+=,.@-]+"),
    "aws:apigatewayv2/api:Api": ("name", 128, r".+"),
}
AUTONAMED = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:s3/bucket:Bucket", "aws:sqs/queue:Queue",
             "aws:lambda/permission:Permission", "aws:sns/topic:Topic"}


def check(plan: OfflinePlan) -> Result:
    result = Result("limits: names, sizes, timeouts and settings AWS would refuse or ignore")
    custom = [r for r in plan.resources if r.custom]
    for rule in RULES:
        for resource in custom:
            result.problems += [f"{resource.type} {resource.name}: {message}" for message in rule(resource)]
    code_sizes = {r.name: len(str(r.inputs.get("code", "")).encode()) for r in custom
                  if r.type == "aws:cloudfront/function:Function"}
    result.figures.append(f"{len(custom)} resources checked; CloudFront Function code "
                          + ", ".join(f"{name} {size} B" for name, size in sorted(code_sizes.items()))
                          + f" (limit {FUNCTION_CODE_LIMIT} B)")
    return result


def names(resource: PlannedResource) -> Iterable[str]:
    if resource.type not in NAMES:
        return []
    key, limit, pattern = NAMES[resource.type]
    value = resource.inputs.get(key)
    if value is None and resource.type in AUTONAMED:
        generated = resource.name + "-abcdefg"
        value = generated.lower() if resource.type == "aws:s3/bucket:Bucket" else generated
        if resource.type == "aws:s3/bucket:Bucket" and resource.name != resource.name.lower():
            return [f"the generated bucket name from {resource.name!r} has capitals, which S3 refuses"]
    if not isinstance(value, str):
        return []
    problems = []
    if len(value) > limit:
        problems.append(f"{key} {value!r} is {len(value)} characters, over the limit of {limit}")
    if not re.fullmatch(pattern, value):
        problems.append(f"{key} {value!r} has characters the service refuses (allowed: {pattern})")
    return problems


def lambda_settings(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:lambda/function:Function":
        return []
    problems = []
    timeout, memory = resource.inputs.get("timeout", 3), resource.inputs.get("memorySize", 128)
    if not 1 <= timeout <= 900:
        problems.append(f"timeout {timeout} s is outside 1-900")
    if not 128 <= memory <= 10240:
        problems.append(f"memorySize {memory} MB is outside 128-10240")
    variables = (resource.inputs.get("environment") or {}).get("variables") or {}
    reserved = sorted(set(variables) & LAMBDA_RESERVED_VARIABLES)
    if reserved:
        problems.append(f"environment sets reserved variables {', '.join(reserved)}")
    size = sum(len(key) + len(str(value)) for key, value in variables.items())
    if size > LAMBDA_ENVIRONMENT_LIMIT:
        problems.append(f"environment is {size} bytes, over Lambda's 4 KB")
    return problems


def edge_function_size(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:cloudfront/function:Function":
        return []
    size = len(str(resource.inputs.get("code", "")).encode())
    return [f"code is {size} bytes, over CloudFront Functions' {FUNCTION_CODE_LIMIT}"] \
        if size > FUNCTION_CODE_LIMIT else []


def log_retention(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:cloudwatch/logGroup:LogGroup":
        return []
    days = resource.inputs.get("retentionInDays")
    return [f"retentionInDays {days} is not a value CloudWatch Logs accepts"] \
        if days not in LOG_RETENTION_DAYS else []


def alarm_periods(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:cloudwatch/metricAlarm:MetricAlarm":
        return []
    periods = [resource.inputs.get("period")] + [
        (query.get("metric") or {}).get("period") for query in resource.inputs.get("metricQueries") or []]
    problems = [f"period {p} s must be 10, 20, 30 or a multiple of 60" for p in periods
                if p is not None and not (p in (10, 20, 30) or (p >= 60 and p % 60 == 0))]
    evaluation = resource.inputs.get("evaluationPeriods", 1)
    longest = max((p for p in periods if p), default=60)
    if evaluation * longest > 86400:
        problems.append(f"{evaluation} periods of {longest} s exceed the one day an alarm may evaluate")
    return problems


def provisioned_on_alias(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig":
        return []
    qualifier = resource.inputs.get("qualifier")
    if qualifier in (None, "", "$LATEST"):
        return [f"provisioned concurrency needs an alias or a version, not {qualifier!r}"]
    return []


def integration_timeouts(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:apigatewayv2/integration:Integration":
        return []
    timeout = resource.inputs.get("timeoutMilliseconds")
    return [f"timeoutMilliseconds {timeout} is over API Gateway's 30000"] if timeout and timeout > 30000 else []


def lifecycle_filters(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        return []
    problems = []
    for rule in resource.inputs.get("rules") or []:
        given = [key for key in LIFECYCLE_FILTER_KEYS if key in (rule.get("filter") or {})]
        if len(given) != 1:
            problems.append(f"rule {rule.get('id')!r}: filter must name exactly one of "
                            f"{', '.join(LIFECYCLE_FILTER_KEYS)} (use prefix '' for every object), not "
                            f"{given or 'none'}: the provider warns and will refuse it")
    return problems


def viewer_tls(resource: PlannedResource) -> Iterable[str]:
    if resource.type != "aws:cloudfront/distribution:Distribution":
        return []
    certificate = resource.inputs.get("viewerCertificate") or {}
    version = certificate.get("minimumProtocolVersion")
    if certificate.get("cloudfrontDefaultCertificate") and version not in (None, "TLSv1"):
        return [f"minimumProtocolVersion {version} is ignored with the default *.cloudfront.net certificate "
                "(CloudFront uses TLSv1 there): enforce TLS 1.2 with a custom domain instead"]
    return []


RULES: list[Callable[[PlannedResource], Iterable[str]]] = [
    names, lambda_settings, edge_function_size, log_retention, alarm_periods, provisioned_on_alias,
    integration_timeouts, lifecycle_filters, viewer_tls,
]


