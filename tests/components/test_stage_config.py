"""Stage config: the committed stage files are valid and differ as the stages should; every rule rejects a bad
value with one line naming the key; Pulumi.yaml declares exactly the keys and defaults the program uses."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pulumi
import pytest
import yaml

from components.config import (
    RULES,
    SECRET_KEYS,
    StageConfig,
    StageConfigError,
    load_stage_config,
)
from components.config import parse_stage_config as parse

from tests.conftest import ROOT

STAGES = ("dev", "staging", "prod")
ALL_SECRETS = {key: True for key in SECRET_KEYS}


def as_pulumi_strings(config: dict[str, Any]) -> dict[str, str]:
    """Stage-file values as the Pulumi engine hands them to a program: strings, JSON for lists."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        return str(value)
    return {key: text(value) for key, value in config.items()}


def stage_file(stage: str) -> dict[str, str]:
    return as_pulumi_strings(yaml.safe_load((ROOT / f"Pulumi.{stage}.yaml").read_text())["config"])


def raw_for(stage: str) -> dict[str, str]:
    """A stage file's config as parse_stage_config takes it: no namespace, aws:region as region."""
    return {key.split(":", 1)[1] if key.startswith("mumble:") else "region": value
            for key, value in stage_file(stage).items()}


def problems_for(stage: str, **overrides: Any) -> list[str]:
    raw = raw_for(stage)
    raw.update({key: value for key, value in overrides.items() if value is not None})
    for key in [key for key, value in overrides.items() if value is None]:
        raw.pop(key, None)
    try:
        parse(stage, raw, ALL_SECRETS)
    except StageConfigError as error:
        return error.problems
    return []


# --- the committed stage files -------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_file_is_valid(stage: str) -> None:
    config = parse(stage, raw_for(stage), ALL_SECRETS)
    assert config.stage == stage and config.region == "us-east-1"


def test_stages_differ_as_dev_cheap_and_prod_protected() -> None:
    dev, staging, prod = (parse(stage, raw_for(stage), ALL_SECRETS) for stage in STAGES)
    assert not dev.pointInTimeRecovery and not dev.protectResources and not dev.alarmsEnabled
    assert dev.corsOrigins == ("*",) and dev.logRetentionDays < staging.logRetentionDays < prod.logRetentionDays
    assert staging.pointInTimeRecovery and staging.alarmsEnabled and not staging.protectResources
    assert prod.protectResources and prod.deletionProtection and prod.alarmsEnabled and prod.alarmEmail
    assert prod.apiThrottleRateLimit > staging.apiThrottleRateLimit > dev.apiThrottleRateLimit
    assert dev.legacyOrigin == "" and staging.legacyOrigin and prod.legacyOrigin


def test_stage_files_use_only_known_keys_in_the_mumble_namespace() -> None:
    known = {f.name for f in fields(StageConfig)} | set(SECRET_KEYS)
    for stage in STAGES:
        for key in stage_file(stage):
            namespace, name = key.split(":", 1)
            assert namespace in ("mumble", "aws"), key
            assert namespace == "aws" or name in known, key


def test_pulumi_yaml_declares_every_key_with_the_programs_default() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "mumble"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    declared = project["config"]
    expected_type = {bool: "boolean", int: "integer", str: "string", tuple: "array"}
    settings = {f.name: f.default for f in fields(StageConfig) if f.name not in ("stage", "region")}
    # Every declaration has a default: the CLI refuses a stack that does not set a key declared without one, and
    # dev has no secrets. The secrets are set per stack with --secret and checked by the program instead.
    assert set(declared) == set(settings) and not set(declared) & set(SECRET_KEYS)
    for name, default in settings.items():
        declaration = declared[name]
        assert declaration["type"] == expected_type[type(default)], name
        assert declaration["default"] == (list(default) if isinstance(default, tuple) else default), name
        assert declaration.get("description"), name
        assert set(declaration) <= {"type", "items", "default", "description", "secret"}, name
    assert declared["corsOrigins"]["items"] == {"type": "string"}


# --- one line per rule, naming the key -----------------------------------------------------------------------

BAD_VALUES = [
    # (stage, key, bad value, words of the rule)
    ("dev", "cutoverInitialWeight", "130", "must be an integer from 0 to 100"),
    ("prod", "cutoverInitialWeight", "-1", "must be an integer from 0 to 100"),
    ("dev", "cutoverInitialWeight", "half", "must be an integer"),
    ("dev", "lambdaArchitecture", "sparc", "must be one of arm64, x86_64"),
    ("dev", "logRetentionDays", "10", "must be one of 1, 3, 5, 7, 14"),
    ("staging", "pointInTimeRecovery", "false", "must be true in staging and prod"),
    ("dev", "pointInTimeRecovery", "maybe", "must be true or false"),
    ("prod", "deletionProtection", "false", "must be true in prod"),
    ("prod", "protectResources", "false", "must be true in prod"),
    ("prod", "alarmsEnabled", "false", "must be true in prod"),
    ("staging", "alarmEmail", "oncall", "must be an email address"),
    ("staging", "corsOrigins", '["*"]', "may be '*' only in the dev stage"),
    ("dev", "corsOrigins", '["https://a.example.com/path"]', "must be an origin such as"),
    ("prod", "corsOrigins", '["http://a.example.com"]', "must use https in prod"),
    ("dev", "corsOrigins", "https://a.example.com", "must be a list of strings"),
    ("dev", "domainName", "https://mumble.app", "must be a DNS name"),
    ("dev", "domainName", "localhost", "must be a DNS name"),
    ("dev", "domainName", "-bad-.example.com", "must be a DNS name"),
    ("dev", "hostedZoneId", "zone-1", "must be a Route 53 hosted zone id"),
    ("dev", "priceClass", "PriceClass_50", "must be one of PriceClass_100"),
    ("dev", "apiThrottleRateLimit", "0", "must be an integer from 1 to 10000"),
    ("dev", "apiThrottleBurstLimit", "9000", "must be an integer from 1 to 5000"),
    ("dev", "provisionedConcurrency", "101", "must be an integer from 0 to 100"),
    ("dev", "p95LatencyThresholdMs", "0", "must be an integer from 1 to 30000"),
    ("staging", "legacyOrigin", "legacy.example.com:8080", "must be a DNS name"),
    ("staging", "legacySubnetIds", '["subnet-123", "net-0a1b2c3d"]', "must be subnet-... ids"),
    ("staging", "legacySecurityGroupIds", '["sg-zz"]', "must be sg-... ids"),
    ("dev", "siteDir", " ", "must not be empty"),
    ("dev", "openaiImageModel", "GPT Image!", "must be an OpenAI model id"),
    ("dev", "openaiTranscriptionModel", "", "must be an OpenAI model id"),
    ("prod", "warmWriteUnitsPerSecond", "1000", "must be 0 (not pre-warmed) or an integer from 4000 to 1000000"),
    ("prod", "warmReadUnitsPerSecond", "2000000", "must be 0 (not pre-warmed) or an integer from 12000 to"),
]


def test_every_rule_has_a_bad_value_case() -> None:
    assert {key for _, key, _, _ in BAD_VALUES} == set(RULES)


@pytest.mark.parametrize("stage, key, value, rule", BAD_VALUES, ids=lambda v: str(v)[:30])
def test_a_bad_value_fails_with_one_line_naming_key_and_rule(stage: str, key: str, value: str, rule: str) -> None:
    problems = problems_for(stage, **{key: value})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"mumble:{key}: ") and rule in problems[0] and repr(value) in problems[0]


@pytest.mark.parametrize("stage, overrides, expected", [
    ("prod", {"alarmEmail": None}, "mumble:alarmEmail: is required"),
    ("dev", {"alarmsEnabled": "true"}, "mumble:alarmEmail: is required"),
    ("dev", {"domainName": "dev.mumble.app"}, "mumble:hostedZoneId: is required when mumble:domainName is set"),
    ("dev", {"cutoverInitialWeight": "10"}, "mumble:cutoverInitialWeight: must be 0 unless mumble:legacyOrigin"),
    ("staging", {"legacySubnetIds": '["subnet-0a1b2c3d4e5f60718"]'},
     "mumble:legacySubnetIds and mumble:legacySecurityGroupIds: set both or neither"),
    ("dev", {"legacySubnetIds": '["subnet-0a1b2c3d"]', "legacySecurityGroupIds": '["sg-0a1b2c3d"]'},
     "mumble:legacySubnetIds: only used with mumble:legacyOrigin"),
    ("prod", {"region": None}, "aws:region: is required"),
    ("prod", {"region": "mars-1"}, "aws:region: 'mars-1' is not an AWS region name"),
    ("dev", {"lambdaArchitectur": "arm64"}, "mumble:lambdaArchitectur: is not a known setting"),
    ("prod", {"deletionProtection": None}, "mumble:deletionProtection: must be true in prod (not set; default False)"),
])
def test_keys_that_depend_on_each_other_or_are_missing(stage: str, overrides: dict, expected: str) -> None:
    problems = problems_for(stage, **overrides)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_secrets_are_required_in_staging_and_prod_and_must_be_encrypted() -> None:
    with pytest.raises(StageConfigError) as missing:
        parse("prod", raw_for("prod"), {})
    assert missing.value.problems == [
        "mumble:openaiApiKey: is required in prod (pulumi config set --secret openaiApiKey ...)",
        "mumble:openweatherApiKey: is required in prod (pulumi config set --secret openweatherApiKey ...)",
        "mumble:legacyMongoUri: is required in prod (pulumi config set --secret legacyMongoUri ...)",
    ]
    without_legacy = {**raw_for("prod"), "legacyOrigin": ""}
    with pytest.raises(StageConfigError) as missing:
        parse("prod", without_legacy, {})
    assert not any("legacyMongoUri" in problem for problem in missing.value.problems)  # nothing to sync back to
    with pytest.raises(StageConfigError, match=r"mumble:openaiApiKey: must be stored encrypted"):
        parse("dev", raw_for("dev"), {"openaiApiKey": False})
    assert parse("dev", raw_for("dev"), {}).stage == "dev"  # dev runs on the offline providers without keys


def test_a_stack_name_that_cannot_name_resources_is_refused() -> None:
    with pytest.raises(StageConfigError, match="stack name 'Prod_1'"):
        parse("Prod_1", raw_for("dev"), {})


# --- through pulumi.Config, as `pulumi preview` runs it -------------------------------------------------------

class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


def _load(stage: str, config: dict[str, str], secret_keys: list[str]) -> StageConfig:
    pulumi.runtime.set_mocks(_Mocks(), project="mumble", stack=stage, preview=True)
    pulumi.runtime.set_all_config(config, secret_keys)
    try:
        return load_stage_config()
    finally:
        pulumi.runtime.set_all_config({}, [])


def test_the_program_reads_the_stage_file_and_secrets_through_pulumi_config() -> None:
    secrets = {f"mumble:{key}": "sk-test" for key in SECRET_KEYS}
    config = _load("prod", {**stage_file("prod"), **secrets}, list(secrets))
    assert config.is_prod and config.logRetentionDays == 90 and config.corsOrigins == ()
    assert "sk-test" not in repr(config)  # secrets never become plain fields


def test_preview_fails_with_one_line_per_bad_key() -> None:
    secrets = {f"mumble:{key}": "sk-test" for key in SECRET_KEYS}
    bad = {**stage_file("prod"), **secrets, "mumble:cutoverInitialWeight": "130"}
    with pytest.raises(pulumi.RunError) as error:
        _load("prod", bad, list(secrets))
    assert str(error.value).splitlines() == [
        "invalid config for stack 'prod':",
        "mumble:cutoverInitialWeight: must be an integer from 0 to 100 (got '130')",
    ]
    with pytest.raises(pulumi.RunError, match="mumble:openaiApiKey: must be stored encrypted"):
        _load("prod", {**stage_file("prod"), **secrets}, ["mumble:openweatherApiKey"])
