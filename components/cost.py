"""`make cost STAGE=prod [USAGE=path.yaml]`: what a stage costs a month, from the same offline plan as `make plan`.

Every resource of the plan is priced by its sized properties (Lambda memory, architecture and provisioned
concurrency, log retention, alarms and their metrics, dashboards, PITR, KMS keys, CloudFront's price class, SSM
tiers, the KeyValueStore, ...) and by a usage profile (cost_data/usage.yaml: users, recordings, views, ...), at the
dated list prices of cost_data/prices.yaml. Free tiers are a separate credit line, never subtracted silently; a
resource type the model does not know is listed as "not priced", never counted as zero; types known to cost
nothing are in `FREE_TYPES`. The AI providers (OpenAI, OpenWeather) are lines of their own, with a total without
them, beside the plan's EC2 baseline. `--scale` prices the same stage at several multiples of the usage.

Exit 0 on success, 2 on a bad usage file or stage config.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pulumi
import yaml

from components.offline import OfflinePlan, PlannedResource, run_offline

DATA = Path(__file__).parent / "cost_data"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
GB = 1024 ** 3
MB_PER_GB = 1024

# Types that cost nothing by themselves (configuration, wiring, identities) - anything else unknown is "not priced".
FREE_TYPES = frozenset({
    "aws:apigateway/account:Account", "aws:apigatewayv2/authorizer:Authorizer",
    "aws:apigatewayv2/integration:Integration", "aws:apigatewayv2/route:Route", "aws:apigatewayv2/stage:Stage",
    "aws:cloudfront/cachePolicy:CachePolicy", "aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget", "aws:cognito/userPoolClient:UserPoolClient", "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:kms/alias:Alias",
    "aws:lambda/alias:Alias", "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "aws:lambda/layerVersion:LayerVersion",
    "aws:lambda/permission:Permission", "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketNotification:BucketNotification", "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:sns/topicSubscription:TopicSubscription",
    "aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record", "pulumi:providers:aws",
})

# Typical billed duration of one event, by function (ms). The worker waits on OpenAI for most of its 12 s: Lambda
# bills that wait. Init (cold starts) adds `INIT_MS` on `cold_start_share` of invocations.
DURATION_MS = {"health": 5, "audioUpload": 120, "speechToText": 3000, "generateImage": 150,
               "generateImageWorker": 12000, "weatherData": 200, "imageGallery": 150, "userProfile": 120,
               "websocketAuthorizer": 60, "websocket": 60, "imageProcessor": 900, "maintenance": 400,
               "reverseSync": 250, "userMigration": 400}
INIT_MS = 800
WRU_PER_RECORDING = 9  # job (put + 3 updates), idempotency (2), image (put + thumbnail update), weather cache
RRU_PER_API_REQUEST = 1.5
ITEM_KB = {"users": 1.0, "images": 1.5}


class UsageError(ValueError):
    """A usage file that cannot be read; the message names the key and the problem."""


@dataclass
class Line:
    service: str
    driver: str
    quantity: float
    unit: str
    unit_price: float
    monthly: float
    resource: str = ""
    ai: bool = False


@dataclass
class Estimate:
    stage: str
    lines: list[Line] = field(default_factory=list)
    free_tier: list[Line] = field(default_factory=list)
    not_priced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def total_without_ai(self) -> float:
        return sum(line.monthly for line in self.lines if not line.ai)

    @property
    def free_tier_credit(self) -> float:
        return sum(line.monthly for line in self.free_tier)


def load_prices(path: Path = DATA / "prices.yaml") -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def load_usage(path: Path | None = None) -> dict[str, float]:
    """The default profile, overridden by `path` (a YAML mapping of numbers); UsageError names a bad key."""
    usage = yaml.safe_load((DATA / "usage.yaml").read_text())
    if path is None:
        return usage
    try:
        given = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: cannot be read as YAML ({str(error).splitlines()[0]})") from None
    if given is None:
        return usage
    if not isinstance(given, dict):
        raise UsageError(f"{path}: must be a mapping of usage keys to numbers, e.g. `active_users: 5000`")
    for key, value in given.items():
        if key not in usage:
            raise UsageError(f"{path}: unknown usage key {key!r} (known: {', '.join(sorted(usage))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise UsageError(f"{path}: {key} must be a number of at least 0 (got {value!r})")
        if key.endswith(("_ratio", "_share", "_in_asia")) and value > 1:
            raise UsageError(f"{path}: {key} is a share from 0 to 1 (got {value!r})")
    return {**usage, **given}


def scaled(usage: Mapping[str, float], factor: float) -> dict[str, float]:
    """The same Mumble with `factor` times the users (and media growth with them); stored media stays."""
    return {**usage, "active_users": usage["active_users"] * factor}


class Pricer:
    """Turns a plan and a usage profile into lines, one resource type at a time."""

    def __init__(self, plan: OfflinePlan, usage: Mapping[str, float], prices: Mapping[str, Any]) -> None:
        self.plan, self.usage, self.prices = plan, usage, prices["prices"]
        self.free = prices["free_tiers"]
        self.estimate = Estimate(plan.stage)
        users = usage["active_users"]
        self.recordings = users * usage["recordings_per_user"]
        self.sessions = users * usage["sessions_per_user"]
        self.gallery_requests = users * usage["gallery_views_per_user"] * usage["api_requests_per_view"]
        self.invocations = self._invocations()

    # -- helpers
    def price(self, key: str, model: str | None = None) -> tuple[float, str]:
        entry = self.prices[key]
        value = entry["by_model"].get(model) if model else entry["price"]
        if value is None:
            raise KeyError(f"{key}: no price for model {model!r}")
        return value / entry["per"], entry["unit"]

    def add(self, service: str, driver: str, quantity: float, key: str, resource: str = "", ai: bool = False,
            model: str | None = None) -> None:
        unit_price, unit = self.price(key, model)
        self.estimate.lines.append(Line(service, driver, quantity, unit, unit_price, quantity * unit_price,
                                        resource, ai))

    def credit(self, service: str, driver: str, quantity: float, key: str) -> None:
        unit_price, unit = self.price(key)
        self.estimate.free_tier.append(Line(service, driver, quantity, unit, unit_price, quantity * unit_price))

    def _invocations(self) -> dict[str, float]:
        u, users = self.usage, self.usage["active_users"]
        schedule = self._scheduled_runs()
        new_stack_writes = self.recordings * 3 + users * u["sessions_per_user"] * 0.1
        return {"health": u["health_checks_per_month"], "audioUpload": self.recordings,
                "speechToText": 0.0, "generateImage": self.recordings * 2, "generateImageWorker": self.recordings,
                "weatherData": users * u["weather_requests_per_user"], "imageGallery": self.gallery_requests * 2 / 3,
                "userProfile": self.gallery_requests / 3 + self.sessions, "websocketAuthorizer": self.sessions,
                "websocket": self.sessions * 2, "imageProcessor": self.recordings, "maintenance": schedule,
                "reverseSync": new_stack_writes, "userMigration": users * 0.05}

    def _scheduled_runs(self) -> float:
        runs = 0.0
        for rule in self.plan.of_type("aws:cloudwatch/eventRule:EventRule"):
            match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)",
                                 str(rule.inputs.get("scheduleExpression", "")))
            if match:
                every = int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
                runs += SECONDS_PER_MONTH / every
        return runs

    # -- per resource type
    def functions(self) -> None:
        provisioned = {r.inputs.get("functionName"): float(r.inputs.get("provisionedConcurrentExecutions", 0))
                       for r in self.plan.of_type(
                           "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")}
        total_requests = total_gb_seconds = 0.0
        for resource in self.plan.of_type("aws:lambda/function:Function"):
            name = resource.inputs["name"]
            logical = name.split("-", 2)[-1]
            architecture = (resource.inputs.get("architectures") or ["x86_64"])[0]
            memory_gb = float(resource.inputs.get("memorySize", 128)) / MB_PER_GB
            if logical not in DURATION_MS:
                self.estimate.not_priced.append(f"aws:lambda/function:Function {name} (no usage model)")
                continue
            calls = self.invocations[logical]
            gb_seconds = calls * memory_gb * (DURATION_MS[logical] + INIT_MS * self.usage["cold_start_share"]) / 1000
            self.add("Lambda", f"{logical} requests", calls, "lambda_requests", name)
            self.add("Lambda", f"{logical} duration ({memory_gb * MB_PER_GB:.0f} MB {architecture})", gb_seconds,
                     f"lambda_duration_{architecture}", name)
            total_requests += calls
            total_gb_seconds += gb_seconds
            if provisioned.get(name):
                count = provisioned[name]
                self.add("Lambda", f"{logical} provisioned concurrency x{count:.0f}",
                         count * memory_gb * SECONDS_PER_MONTH, f"lambda_provisioned_{architecture}", name)
        self.credit("Lambda", "free requests", min(total_requests, self.free["lambda_requests"]), "lambda_requests")
        self.credit("Lambda", "free compute", min(total_gb_seconds, self.free["lambda_gb_seconds"]),
                    "lambda_duration_arm64")

    def apis(self) -> None:
        for api in self.plan.of_type("aws:apigatewayv2/api:Api"):
            if api.inputs.get("protocolType") == "WEBSOCKET":
                messages = self.sessions * 2 + self.recordings * 4  # connect/disconnect, job updates
                self.add("API Gateway", "WebSocket messages", messages, "websocket_messages", api.inputs["name"])
                self.add("API Gateway", "WebSocket connection minutes",
                         self.sessions * self.usage["websocket_minutes_per_session"], "websocket_minutes",
                         api.inputs["name"])
            else:
                requests = sum(v for k, v in self.invocations.items()
                               if k in ("health", "audioUpload", "speechToText", "generateImage", "weatherData",
                                        "imageGallery", "userProfile"))
                self.add("API Gateway", "HTTP API requests", requests, "http_api_requests", api.inputs["name"])

    def tables(self) -> None:
        recordings, users = self.recordings, self.usage["active_users"]
        api_requests = self.gallery_requests + self.sessions
        for table in self.plan.of_type("aws:dynamodb/table:Table"):
            name = table.inputs["name"]
            logical = name.split("-", 2)[-1]
            if logical == "images":
                self.add("DynamoDB", "writes (images, jobs, idempotency, cache)", recordings * WRU_PER_RECORDING,
                         "dynamodb_writes", name)
                self.add("DynamoDB", "reads (gallery, jobs, profiles, cache)", api_requests * RRU_PER_API_REQUEST,
                         "dynamodb_reads", name)
            if logical in ITEM_KB:
                count = users if logical == "users" else users * self.usage["recordings_per_user"] * 12
                gb = count * ITEM_KB[logical] * 1024 / GB
                self.add("DynamoDB", f"{logical} storage (a year of items)", gb, "dynamodb_storage", name)
                if (table.inputs.get("pointInTimeRecovery") or {}).get("enabled"):
                    self.add("DynamoDB", f"{logical} point-in-time recovery", gb, "dynamodb_pitr", name)

    def buckets(self) -> None:
        u = self.usage
        for bucket in self.plan.of_type("aws:s3/bucket:Bucket"):
            name = bucket.name
            if "site" in name:
                self.add("S3", "site files", 0.01, "s3_storage", name)
                continue
            new_gb = self.recordings * (u["image_mb"] / 1024 + (u["audio_kb"] + u["thumbnail_kb"]) / 1024 ** 2)
            self.add("S3", "media stored (existing + this month's)", u["stored_media_gb"] + new_gb, "s3_storage",
                     name)
            self.add("S3", "uploads (audio, image, thumbnail)", self.recordings * 3, "s3_puts", name)
            thumbnails = u["active_users"] * u["gallery_views_per_user"] * 20 * 0.5  # half cached by browsers
            images = u["active_users"] * u["image_views_per_user"]
            self.add("S3", "downloads (presigned thumbnails and images)", thumbnails + images, "s3_gets", name)
            out_gb = (thumbnails * u["thumbnail_kb"] / 1024 ** 2) + images * u["image_mb"] / 1024
            self.add("S3", "transfer to browsers (presigned URLs)", out_gb, "s3_transfer_out", name)

    def edge(self) -> None:
        u = self.usage
        routed = bool(self.plan.of_type("aws:cloudfront/keyValueStore:KeyValueStore"))
        for distribution in self.plan.of_type("aws:cloudfront/distribution:Distribution"):
            asia = u["viewers_in_asia"] if distribution.inputs.get("priceClass") == "PriceClass_All" else 0.0
            page_requests = self.sessions * 2
            api_requests = self.gallery_requests + self.sessions + self.recordings * 3
            requests = page_requests + api_requests
            gb = (self.sessions * u["page_kb"] + api_requests * 2) / 1024 ** 2
            label = distribution.name
            self.add("CloudFront", "transfer to viewers (NA/EU edges)", gb * (1 - asia), "cloudfront_transfer_na_eu",
                     label)
            if asia:
                self.add("CloudFront", "transfer to viewers (Asia edges)", gb * asia, "cloudfront_transfer_asia", label)
            self.add("CloudFront", "HTTPS requests (NA/EU edges)", requests * (1 - asia), "cloudfront_requests_na_eu",
                     label)
            if asia:
                self.add("CloudFront", "HTTPS requests (Asia edges)", requests * asia, "cloudfront_requests_asia",
                         label)
            functions_per_request = 2 if routed else 1
            self.add("CloudFront", "function invocations", requests * functions_per_request, "cloudfront_functions",
                     label)
            if routed:
                self.add("CloudFront", "KeyValueStore reads (weight, salt)", requests * 2, "cloudfront_kvs_reads",
                         label)
            self.credit("CloudFront", "free transfer", min(gb, self.free["cloudfront_transfer_gb"]),
                        "cloudfront_transfer_na_eu")
            self.credit("CloudFront", "free requests", min(requests, self.free["cloudfront_requests"]),
                        "cloudfront_requests_na_eu")
            self.credit("CloudFront", "free function invocations",
                        min(requests * functions_per_request, self.free["cloudfront_functions"]),
                        "cloudfront_functions")

    def auth(self) -> None:
        for pool in self.plan.of_type("aws:cognito/userPool:UserPool"):
            users = self.usage["active_users"]
            self.add("Cognito", "monthly active users", users, "cognito_mau", pool.inputs.get("name", pool.name))
            self.credit("Cognito", "free MAUs", min(users, self.free["cognito_mau"]), "cognito_mau")

    def monitoring(self) -> None:
        alarm_metrics = sum(max(1, len([q for q in a.inputs.get("metricQueries") or [] if "metric" in q]))
                            for a in self.plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
        if alarm_metrics:
            self.add("CloudWatch", "alarm metrics", alarm_metrics, "cloudwatch_alarm_metric")
            self.credit("CloudWatch", "free alarm metrics", min(alarm_metrics, self.free["cloudwatch_alarm_metrics"]),
                        "cloudwatch_alarm_metric")
        dashboards = len(self.plan.of_type("aws:cloudwatch/dashboard:Dashboard"))
        if dashboards:
            self.add("CloudWatch", "dashboards", dashboards, "cloudwatch_dashboard")
            self.credit("CloudWatch", "free dashboards", min(dashboards, self.free["cloudwatch_dashboards"]),
                        "cloudwatch_dashboard")
        ingest_gb = sum(self.invocations.values()) * self.usage["log_kb_per_invocation"] / 1024 ** 2
        retention = [r.inputs.get("retentionInDays", 3653) for r in self.plan.of_type(
            "aws:cloudwatch/logGroup:LogGroup")]
        mean_retention = sum(retention) / len(retention) if retention else 0
        self.add("CloudWatch", "log ingestion", ingest_gb, "cloudwatch_logs_ingest")
        self.add("CloudWatch", f"log storage (retention {mean_retention:.0f} days on average)",
                 ingest_gb * mean_retention / 30, "cloudwatch_logs_storage")
        self.credit("CloudWatch", "free log ingestion", min(ingest_gb, self.free["cloudwatch_logs_gb"]),
                    "cloudwatch_logs_ingest")

    def keys_queues_topics_parameters(self) -> None:
        for key in self.plan.of_type("aws:kms/key:Key"):
            self.add("KMS", "customer-managed key", 1, "kms_key", key.name)
        for queue in self.plan.of_type("aws:sqs/queue:Queue"):
            self.add("SQS", "failure-queue requests (polled by nobody; alarms read metrics)", 1000, "sqs_requests",
                     queue.name)
        for topic in self.plan.of_type("aws:sns/topic:Topic"):
            self.add("SNS", "alarm emails", 50, "sns_email", topic.inputs.get("name", topic.name))
        for parameter in self.plan.of_type("aws:ssm/parameter:Parameter"):
            if parameter.inputs.get("tier") == "Advanced":
                self.add("SSM", "advanced parameter", 1, "ssm_advanced_parameter", parameter.inputs.get("name", ""))

    def providers(self) -> None:
        env = next((f.inputs.get("environment", {}).get("variables", {})
                    for f in self.plan.of_type("aws:lambda/function:Function")
                    if f.inputs["name"].endswith("-generateImageWorker")), {})
        if not env:
            return  # no image pipeline in this plan: nothing calls the providers
        minutes = self.recordings * self.usage["audio_seconds"] / 60
        for key, model, driver, quantity in (
                ("openai_transcription", env.get("OPENAI_TRANSCRIPTION_MODEL"), "transcription", minutes),
                ("openai_image", env.get("OPENAI_IMAGE_MODEL"), "image generation", self.recordings)):
            if model in self.prices[key]["by_model"]:
                self.add("OpenAI", f"{driver} ({model})", quantity, key, ai=True, model=model)
            else:
                self.estimate.not_priced.append(f"OpenAI {driver} with model {model!r} (no price in the table)")
        calls = (self.recordings + self.usage["active_users"] * self.usage["weather_requests_per_user"]) * (
            1 - self.usage["weather_cache_hit_ratio"])
        self.add("OpenWeather", "weather lookups (cache misses)", calls, "openweather_calls", ai=True)
        if calls > self.prices["openweather_calls"]["limit"]:
            self.estimate.notes.append(f"OpenWeather: {calls:,.0f} calls a month exceed the Free plan's "
                                       f"{self.prices['openweather_calls']['limit']:,}: a paid plan is needed "
                                       "(not priced)")


PRICED: dict[str, Callable[[Pricer], None]] = {
    "aws:lambda/function:Function": Pricer.functions,
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": lambda p: None,  # in functions
    "aws:apigatewayv2/api:Api": Pricer.apis,
    "aws:dynamodb/table:Table": Pricer.tables,
    "aws:s3/bucket:Bucket": Pricer.buckets,
    "aws:cloudfront/distribution:Distribution": Pricer.edge,
    "aws:cloudfront/function:Function": lambda p: None,  # invocations priced with the distribution
    "aws:cloudfront/keyValueStore:KeyValueStore": lambda p: None,  # reads priced with the distribution
    "aws:cognito/userPool:UserPool": Pricer.auth,
    "aws:cloudwatch/metricAlarm:MetricAlarm": Pricer.monitoring,
    "aws:cloudwatch/dashboard:Dashboard": lambda p: None,  # with the alarms
    "aws:cloudwatch/logGroup:LogGroup": lambda p: None,  # with the alarms
    "aws:kms/key:Key": Pricer.keys_queues_topics_parameters,
    "aws:sqs/queue:Queue": lambda p: None,
    "aws:sns/topic:Topic": lambda p: None,
    "aws:ssm/parameter:Parameter": lambda p: None,
}


def unpriced_types(plan: OfflinePlan) -> list[str]:
    """Resource types of the plan that are neither priced nor known to be free."""
    return sorted({r.type for r in plan.resources if r.custom} - set(PRICED) - FREE_TYPES)


def estimate(plan: OfflinePlan, usage: Mapping[str, float], prices: Mapping[str, Any] | None = None) -> Estimate:
    pricer = Pricer(plan, usage, prices or load_prices())
    for step in (Pricer.functions, Pricer.apis, Pricer.tables, Pricer.buckets, Pricer.edge, Pricer.auth,
                 Pricer.monitoring, Pricer.keys_queues_topics_parameters, Pricer.providers):
        step(pricer)
    pricer.estimate.not_priced += [f"{t} (no price in the model)" for t in unpriced_types(plan)]
    return pricer.estimate


def idle_floor(plan: OfflinePlan, usage: Mapping[str, float], prices: Mapping[str, Any]) -> float:
    """What the stage costs with nobody using it (stored media, provisioned concurrency, alarms, keys, ...)."""
    quiet = {key: (0.0 if key in ("active_users", "health_checks_per_month") else value)
             for key, value in usage.items()}
    return estimate(plan, quiet, prices).total


def render(result: Estimate, floor: float, prices: Mapping[str, Any],
           scale: list[tuple[float, Estimate]] | None = None) -> str:
    baseline = prices["ec2_baseline"]
    lines = [f"MONTHLY COST of stage {result.stage!r} - us-east-1 list prices as of {prices['as_of']} "
             "(cost_data/prices.yaml), usage profile as given", "",
             f"  {'service':12} {'driver':52} {'quantity':>14} {'unit price':>12} {'monthly':>10}"]
    for line in sorted(result.lines, key=lambda line: (line.service, -line.monthly)):
        if line.monthly >= 0.005 or line.quantity:
            lines.append(f"  {line.service:12} {line.driver[:52]:52} {line.quantity:14,.1f} "
                         f"{line.unit_price:12.8f} {line.monthly:10.2f}")
    by_service: dict[str, float] = {}
    for line in result.lines:
        by_service[line.service] = by_service.get(line.service, 0.0) + line.monthly
    lines += ["", "  per service: " + ", ".join(f"{s} ${v:,.2f}" for s, v in sorted(by_service.items(),
                                                                                key=lambda kv: -kv[1]))]
    without = result.total_without_ai
    lines += ["", f"  total ${result.total:,.2f} a month; without the AI providers ${without:,.2f}",
              f"  idle floor (nobody using it) ${floor:,.2f}",
              f"  free tiers, if the account has them (not subtracted above): -${result.free_tier_credit:,.2f}",
              f"  EC2 baseline (the plan's): ${baseline['monthly']:,.2f} ({baseline['covers']}); serverless without AI "
              f"is {100 * (without / baseline['monthly'] - 1):+.0f}% of it (the plan's goal: at least -30%)",
              f"  the baseline leaves out: {' '.join(baseline['leaves_out'].split())}"]
    if result.not_priced:
        lines += ["", "  not priced (counted as unknown, not as zero):"] + [f"    {t}" for t in result.not_priced]
    lines += [f"  note: {note}" for note in result.notes]
    if scale:
        lines += ["", "  scaling (the same stage at multiples of the users):"]
        base = {line.driver: line.monthly for line in scale[0][1].lines}
        for factor, scaled_estimate in scale:
            lines.append(f"    x{factor:<5g} total ${scaled_estimate.total:12,.2f}   without AI "
                         f"${scaled_estimate.total_without_ai:12,.2f}")
        last = {line.driver: line.monthly for line in scale[-1][1].lines}
        aws = {line.driver for line in scale[-1][1].lines if not line.ai}
        for label, drivers in (("fastest-growing line", set(last)), ("fastest-growing AWS line", aws)):
            fastest = max(drivers, key=lambda driver: last[driver] - base.get(driver, 0.0))
            lines.append(f"    {label}: {fastest} (${base.get(fastest, 0):,.2f} -> ${last[fastest]:,.2f})")
    return "\n".join(lines)


def total_line(plan: OfflinePlan) -> str:
    """One line for `make plan`: the default profile's total."""
    prices = load_prices()
    result = estimate(plan, load_usage(), prices)
    return (f"monthly cost at the default usage profile: ${result.total:,.2f} (without the AI providers "
            f"${result.total_without_ai:,.2f}; prices as of {prices['as_of']}; details: make cost STAGE={plan.stage})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.cost", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", default="dev", help="stack to price, from Pulumi.<stage>.yaml (default dev)")
    parser.add_argument("--usage", type=Path, help="YAML usage profile overriding cost_data/usage.yaml")
    parser.add_argument("--scale", default="1,10,100", help="multiples of the users to price (default 1,10,100)")
    parser.add_argument("--json", action="store_true", help="machine-readable output (for CI)")
    args = parser.parse_args(argv)
    try:
        usage = load_usage(args.usage)
        factors = [float(f) for f in args.scale.split(",") if f.strip()]
        if not factors or any(f <= 0 for f in factors):
            raise UsageError(f"--scale must list positive multiples, e.g. 1,10,100 (got {args.scale!r})")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"error: --scale must list numbers, e.g. 1,10,100 (got {args.scale!r})", file=sys.stderr)
        return 2
    try:
        plan = run_offline(args.stage)
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prices = load_prices()
    result = estimate(plan, usage, prices)
    floor = idle_floor(plan, usage, prices)
    scale = [(factor, estimate(plan, scaled(usage, factor), prices)) for factor in factors]
    if args.json:
        print(json.dumps({"stage": args.stage, "as_of": prices["as_of"], "total": round(result.total, 2),
                          "total_without_ai": round(result.total_without_ai, 2), "idle_floor": round(floor, 2),
                          "free_tier_credit": round(result.free_tier_credit, 2),
                          "ec2_baseline": prices["ec2_baseline"]["monthly"], "not_priced": result.not_priced,
                          "notes": result.notes, "lines": [asdict(line) for line in result.lines],
                          "scale": {f"{factor:g}": round(e.total, 2) for factor, e in scale}}, indent=2))
    else:
        print(render(result, floor, prices, scale))
    return 0



if __name__ == "__main__":
    sys.exit(main())
