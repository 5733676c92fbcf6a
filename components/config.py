"""The typed stage config: every `mumble:` key the stack reads, its default, and the rule it must follow.

`parse_stage_config` is pure (strings in, a frozen `StageConfig` or a `StageConfigError` out), so every rule is
unit-tested without a Pulumi engine; `load_stage_config` feeds it from `pulumi.Config` and turns a bad value into a
`pulumi.RunError`, which `pulumi preview` prints as one line per bad key, naming the key and the rule.

Defaults here are the same as the declarations in `Pulumi.yaml` (a test holds them equal), so the program behaves
the same whether the CLI or the test mocks supply the config.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

NAMESPACE = "mumble"

ARCHITECTURES = ("arm64", "x86_64")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
SECRET_KEYS = ("openaiApiKey", "openweatherApiKey", "legacyMongoUri")
LEGACY_SECRETS = ("legacyMongoUri",)  # needed (and required in strict stages) only with a legacy origin
STRICT_STAGES = ("staging", "prod")  # stages that must behave like production
# A new on-demand table's warm throughput (what pre-warming starts above), and the highest value taken here.
WARM_WRITE_DEFAULT, WARM_READ_DEFAULT, WARM_MAXIMUM = 4_000, 12_000, 1_000_000

_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,32}$")
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
_MODEL = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,63}$")


class StageConfigError(ValueError):
    """One or more config values break their rule; each line names the key and the rule."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StageConfig:
    """Everything the stack reads from a stage's config, validated. Field names are the config keys."""

    stage: str
    region: str
    lambdaArchitecture: str = "arm64"
    logRetentionDays: int = 14
    pointInTimeRecovery: bool = True
    deletionProtection: bool = False
    protectResources: bool = False
    alarmsEnabled: bool = False
    alarmEmail: str = ""
    corsOrigins: tuple[str, ...] = ()
    domainName: str = ""
    hostedZoneId: str = ""
    priceClass: str = "PriceClass_100"
    apiThrottleRateLimit: int = 50
    apiThrottleBurstLimit: int = 100
    provisionedConcurrency: int = 0
    p95LatencyThresholdMs: int = 500
    legacyOrigin: str = ""
    cutoverInitialWeight: int = 0
    cutoverSalt: str = ""
    legacySubnetIds: tuple[str, ...] = ()  # where reverseSync runs to reach the legacy MongoDB (its VPC)
    legacySecurityGroupIds: tuple[str, ...] = ()
    manageApiGatewayAccount: bool = True  # the account's API Gateway CloudWatch role (components/api_gateway_account.py)
    siteDir: str = "site"
    openaiImageModel: str = "gpt-image-1"
    openaiTranscriptionModel: str = "gpt-4o-transcribe"
    warmWriteUnitsPerSecond: int = 0  # pre-warmed writes/s of the bulk-loaded tables and their indexes (0: not)
    warmReadUnitsPerSecond: int = 0

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def is_strict(self) -> bool:
        return self.stage in STRICT_STAGES

    @property
    def salt(self) -> str:
        """The cutover hashing salt: configured, or one stable per stage."""
        return self.cutoverSalt or f"mumble-{self.stage}"


# --- the rules -------------------------------------------------------------------------------------------------
# Each check returns None when the value is fine, or the rule it breaks (the message names key and value).

Check = Callable[[Any, str], "str | None"]


def _one_of(options: tuple[Any, ...]) -> Check:
    return lambda value, stage: None if value in options else f"must be one of {', '.join(map(str, options))}"


def _int_range(low: int, high: int) -> Check:
    return lambda value, stage: None if low <= value <= high else f"must be an integer from {low} to {high}"


def _hostname(value: str, stage: str) -> str | None:
    if not value:
        return None
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or labels[-1].isdigit():
        return "must be a DNS name such as app.example.com (lower case, no scheme, no path)"
    return None


def _email(value: str, stage: str) -> str | None:
    return None if not value or _EMAIL.match(value) else "must be an email address"


def _zone_id(value: str, stage: str) -> str | None:
    return None if not value or _ZONE_ID.match(value) else "must be a Route 53 hosted zone id such as Z0123456789ABC"


def _origins(value: tuple[str, ...], stage: str) -> str | None:
    for origin in value:
        if origin == "*":
            if stage != "dev":
                return "may be '*' only in the dev stage"
        elif not _ORIGIN.match(origin):
            return f"entry {origin!r} must be an origin such as https://app.example.com (scheme and host, no path)"
        elif origin.startswith("http://") and stage in STRICT_STAGES:
            return f"entry {origin!r} must use https in {stage}"
    return None


def _model(value: str, stage: str) -> str | None:
    return None if _MODEL.match(value) else "must be an OpenAI model id such as gpt-image-1"


def _non_empty(value: str, stage: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _true_in_strict(value: bool, stage: str) -> str | None:
    return "must be true in staging and prod" if stage in STRICT_STAGES and not value else None


def _true_in_prod(value: bool, stage: str) -> str | None:
    return "must be true in prod" if stage == "prod" and not value else None


def _warm(minimum: int) -> Check:
    """0 (not pre-warmed: DynamoDB's defaults) or at least the default a new on-demand table has already."""
    return lambda value, stage: None if value == 0 or minimum <= value <= WARM_MAXIMUM else \
        f"must be 0 (not pre-warmed) or an integer from {minimum} to {WARM_MAXIMUM}"


def _ids(values: tuple[str, ...], prefix: str) -> str | None:
    bad = [v for v in values if not re.fullmatch(re.escape(prefix) + r"[0-9a-f]{8,17}", v)]
    return f"must be {prefix}... ids, not {', '.join(map(repr, bad))}" if bad else None


RULES: dict[str, Check] = {
    "lambdaArchitecture": _one_of(ARCHITECTURES),
    "logRetentionDays": _one_of(LOG_RETENTION_DAYS),
    "pointInTimeRecovery": _true_in_strict,
    "deletionProtection": _true_in_prod,
    "protectResources": _true_in_prod,
    "alarmsEnabled": _true_in_prod,
    "alarmEmail": _email,
    "corsOrigins": _origins,
    "domainName": _hostname,
    "hostedZoneId": _zone_id,
    "priceClass": _one_of(PRICE_CLASSES),
    "apiThrottleRateLimit": _int_range(1, 10_000),
    "apiThrottleBurstLimit": _int_range(1, 5_000),
    "provisionedConcurrency": _int_range(0, 100),
    "p95LatencyThresholdMs": _int_range(1, 30_000),
    "legacyOrigin": _hostname,
    "legacySubnetIds": lambda value, stage: _ids(value, "subnet-"),
    "legacySecurityGroupIds": lambda value, stage: _ids(value, "sg-"),
    "cutoverInitialWeight": _int_range(0, 100),
    "siteDir": _non_empty,
    "openaiImageModel": _model,
    "openaiTranscriptionModel": _model,
    "warmWriteUnitsPerSecond": _warm(WARM_WRITE_DEFAULT),
    "warmReadUnitsPerSecond": _warm(WARM_READ_DEFAULT),
}


def _convert(raw: str, default: Any) -> Any:
    """Turn a config string into the type of the field's default; ValueError names the expected type."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError("must be true or false")
        return lowered == "true"
    if isinstance(default, int):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError("must be an integer") from None
    if isinstance(default, tuple):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("must be a list of strings, e.g. [\"https://app.example.com\"]") from None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of strings, e.g. [\"https://app.example.com\"]")
        return tuple(value)
    return raw.strip()


def parse_stage_config(stage: str, raw: Mapping[str, str], secrets_set: Mapping[str, bool]) -> StageConfig:
    """Validate a stage's raw config strings (keys without namespace; `aws:region` as `region`).

    `secrets_set` says, per secret key, whether it is set *as a secret*: True = secret, False = set in plain
    text (refused), absent = not set. Secrets themselves never enter StageConfig; components read them as
    Pulumi secret outputs.
    """
    problems: list[str] = []
    if not _STAGE.match(stage):
        problems.append(f"stack name {stage!r}: must be lower case letters, digits and '-', at most 16 characters")
    region = raw.get("region", "").strip()
    if not region:
        problems.append("aws:region: is required (pulumi config set aws:region us-east-1)")
    elif not _REGION.match(region):
        problems.append(f"aws:region: {region!r} is not an AWS region name such as us-east-1")

    known = {f.name: f for f in fields(StageConfig) if f.name not in ("stage", "region")}
    unknown = sorted(set(raw) - set(known) - {"region"} - set(SECRET_KEYS))
    problems.extend(f"{NAMESPACE}:{key}: is not a known setting (check the spelling)" for key in unknown)

    values: dict[str, Any] = {}
    bad: set[str] = set()  # keys already reported, so rules that tie keys together stay quiet about them
    for name, spec in known.items():
        if name in raw:
            try:
                values[name] = _convert(raw[name], spec.default)
            except ValueError as error:
                problems.append(f"{NAMESPACE}:{name}: {error} (got {raw[name]!r})")
                bad.add(name)
                continue
            shown = f"got {raw[name]!r}"
        else:
            values[name] = spec.default
            shown = f"not set; default {spec.default!r}"
        rule = RULES.get(name)
        broken = rule(values[name], stage) if rule else None
        if broken:
            problems.append(f"{NAMESPACE}:{name}: {broken} ({shown})")
            bad.add(name)

    # Rules that tie keys together, over the values that passed their own rule.
    ok = {name: value for name, value in values.items() if name not in bad}
    if (stage == "prod" or ok.get("alarmsEnabled")) and ok.get("alarmEmail") == "":
        problems.append(f"{NAMESPACE}:alarmEmail: is required when alarms are enabled and in prod "
                        "(where alarms notify someone)")
    if ok.get("domainName") and ok.get("hostedZoneId") == "":
        problems.append(f"{NAMESPACE}:hostedZoneId: is required when {NAMESPACE}:domainName is set "
                        "(the certificate is validated and the alias created in that zone)")
    if ok.get("cutoverInitialWeight") and ok.get("legacyOrigin") == "":
        problems.append(f"{NAMESPACE}:cutoverInitialWeight: must be 0 unless {NAMESPACE}:legacyOrigin is set "
                        "(there is nothing to split traffic with)")
    if bool(ok.get("legacySubnetIds")) != bool(ok.get("legacySecurityGroupIds")):
        problems.append(f"{NAMESPACE}:legacySubnetIds and {NAMESPACE}:legacySecurityGroupIds: set both or neither "
                        "(a function in a VPC needs subnets and security groups)")
    if (ok.get("legacySubnetIds") or ok.get("legacySecurityGroupIds")) and not values.get("legacyOrigin"):
        problems.append(f"{NAMESPACE}:legacySubnetIds: only used with {NAMESPACE}:legacyOrigin (the reverse sync)")
    for key in SECRET_KEYS:
        needed = key not in LEGACY_SECRETS or bool(values.get("legacyOrigin"))
        if secrets_set.get(key) is False:
            problems.append(f"{NAMESPACE}:{key}: must be stored encrypted "
                            f"(pulumi config set --secret {key} ...), not in plain text")
        elif key not in secrets_set and stage in STRICT_STAGES and needed:
            problems.append(f"{NAMESPACE}:{key}: is required in {stage} (pulumi config set --secret {key} ...)")

    if problems:
        raise StageConfigError(problems)
    return StageConfig(stage=stage, region=region, **values)


def load_stage_config() -> StageConfig:
    """Read and validate the current stack's config; a bad value stops the program with one line per problem."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

    stage = pulumi.get_stack()
    prefix = f"{NAMESPACE}:"
    raw: dict[str, str] = {}
    secrets_set: dict[str, bool] = {}
    # The whole map (not one Config.get per known key) so a misspelt key is reported instead of ignored.
    every_key = {**get_config_env(), **CONFIG.get()}
    for full_key, value in every_key.items():
        if full_key == "aws:region":
            raw["region"] = value
        elif full_key.startswith(prefix):
            key = full_key[len(prefix):]
            if key in SECRET_KEYS:
                secrets_set[key] = is_config_secret(full_key)
            else:
                raw[key] = value
    try:
        return parse_stage_config(stage, raw, secrets_set)
    except StageConfigError as error:
        raise pulumi.RunError(f"invalid config for stack {stage!r}:\n{error}") from None
