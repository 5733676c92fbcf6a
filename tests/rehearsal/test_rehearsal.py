"""Each defect the first deploy rehearsal found has a check that names it in one line; these tests reintroduce
each one in small and expect that line (the rehearsal itself runs for every stage in .ci/run)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from components.offline import PlannedResource, run_offline
from components.packaging import (_drop_outside_entries, layer_archive_path, layer_files, pip_install_command)
from policy.rules import UNKNOWN, Resource, evaluate, no_iam_wildcards
from rehearsal import config_rules, limits
from rehearsal.artifacts import wheel_tag_problems
from tests.conftest import ROOT

STAGES = ("dev", "staging", "prod")


def _resource(type_: str, inputs: dict) -> PlannedResource:
    return PlannedResource(urn=f"urn:x::{type_}::r", type=type_, name="r", parent="", inputs=inputs, custom=True,
                           protect=False, retain_on_delete=False, ignore_changes=(), provider="")


# 1. the layer resolves for Lambda: every manylinux tag up to glibc 2.34, and a too-new wheel is named
def test_a_wheel_for_a_newer_glibc_or_another_machine_is_named() -> None:
    command = pip_install_command(ROOT / "functions" / "requirements.txt", Path("/t"), "3.12", "arm64")
    assert "manylinux_2_28_aarch64" in command and "manylinux_2_34_aarch64" in command
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/good-1.dist-info/WHEEL", "Tag: cp312-cp312-manylinux_2_28_aarch64\n")
        archive.writestr("python/new-1.dist-info/WHEEL", "Tag: cp312-cp312-manylinux_2_39_aarch64\n")
        archive.writestr("python/pure-1.dist-info/WHEEL", "Tag: py3-none-any\n")
    problems = wheel_tag_problems(zipfile.ZipFile(buffer), "arm64")
    assert len(problems) == 1 and problems[0].startswith("new-1.dist-info: wheel tags cp312-cp312-manylinux_2_39")


# 2. the CLI's config rules, on the files as committed
def test_every_committed_stack_passes_the_clis_config_rules() -> None:
    for stage in STAGES:
        assert config_rules.check(ROOT, stage).problems == [], stage


def test_a_key_declared_without_default_and_unset_is_named() -> None:
    problems = config_rules.problems("mumble", {"openaiApiKey": {"type": "string", "secret": True}}, {}, "Pulumi.dev.yaml")
    assert problems == ["Pulumi.yaml declares mumble:openaiApiKey without a default and Pulumi.dev.yaml does not set "
                        "it: the CLI refuses the stack ('missing configuration value')"]
    plain = config_rules.problems("mumble", {}, {"mumble:openaiApiKey": "sk-1"}, "Pulumi.prod.yaml")
    assert plain and "plain text" in plain[0]
    assert config_rules.problems("mumble", {}, {"mumble:openaiApiKey": {"secure": "v1:abc"}}, "Pulumi.prod.yaml") == []


# 3. the policy pack names its interpreter
def test_the_policy_pack_names_its_own_virtualenv_and_the_makefile_makes_it() -> None:
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert "policy/venv/.installed: policy/requirements.txt" in (ROOT / "Makefile").read_text()


# 4. the account's API Gateway CloudWatch role, before the WebSocket stage that logs
def test_the_account_api_gateway_role_is_set_before_the_websocket_stage_and_retained() -> None:
    plan = run_offline("dev")
    (account,) = plan.of_type("aws:apigateway/account:Account")
    assert account.retain_on_delete and account.property_dependencies["cloudwatchRoleArn"]
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.urn == account.property_dependencies[
        "cloudwatchRoleArn"][0])
    assert role.retain_on_delete and "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    off = run_offline("dev", {**_stage("dev"), "mumble:manageApiGatewayAccount": "false"})
    assert not off.of_type("aws:apigateway/account:Account")


# 5. alarms can notify: a customer-managed key CloudWatch may use
def test_the_alarm_topic_uses_a_key_cloudwatch_may_use_and_the_aws_managed_key_is_refused() -> None:
    plan = run_offline("prod")
    (topic,) = plan.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] != "alias/aws/sns"
    (key,) = plan.of_type("aws:kms/key:Key")
    assert '"cloudwatch.amazonaws.com"' in key.inputs["policy"] and key.inputs["enableKeyRotation"]
    alarm = Resource("aws:cloudwatch/metricAlarm:MetricAlarm", {}, "urn:a", {"alarmActions": ["urn:t"]})
    bad = Resource("aws:sns/topic:Topic", {"name": "t", "kmsMasterKeyId": "alias/aws/sns"}, "urn:t")
    assert evaluate([alarm, bad])["alarm-topics-usable-by-cloudwatch"]


# 6. TLS 1.2 is claimed only where CloudFront enforces it
def test_a_protocol_version_on_the_default_certificate_is_named() -> None:
    bad = _resource("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {
        "cloudfrontDefaultCertificate": True, "minimumProtocolVersion": "TLSv1.2_2021"}})
    assert "ignored with the default *.cloudfront.net certificate" in list(limits.viewer_tls(bad))[0]


# 7. policies enforce on a first preview, and see lists whatever their wrapper
def test_every_rule_passes_a_first_preview_with_unknown_ids() -> None:
    for stage in STAGES:
        plan = run_offline(stage, unknown_ids=True)
        resources = [Resource(r.type, _unknowns(r.inputs), r.urn, r.property_dependencies)
                     for r in plan.resources if r.custom]
        assert {k: v for k, v in evaluate(resources).items() if v} == {}, stage


def test_a_bucket_missing_its_tls_policy_is_found_by_dependency_when_ids_are_unknown() -> None:
    bucket = Resource("aws:s3/bucket:Bucket", {"bucket": "b-1234567"}, "urn:b")
    block = Resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {"bucket": UNKNOWN}, "urn:p",
                     {"bucket": ["urn:b"]})
    encryption = Resource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                          {"bucket": UNKNOWN}, "urn:e", {"bucket": ["urn:b"]})
    assert evaluate([bucket, block, encryption])["buckets-private-encrypted-tls-only"] == [
        "bucket 'b-1234567' lacks a TLS-only bucket policy"]


class _ListProxy(Sequence):  # what pulumi-policy hands a rule instead of a list
    def __init__(self, items: list) -> None:
        self._items = items

    def __getitem__(self, index):  # type: ignore[override]
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)


def test_wildcards_in_a_roles_inline_policies_are_seen_through_a_list_proxy() -> None:
    policies = _ListProxy([{"name": "x", "policy": '{"Statement": [{"Effect": "Allow", "Action": "*", '
                                                   '"Resource": "*"}]}'}])
    assert no_iam_wildcards("aws:iam/role:Role", {"inlinePolicies": policies})


# 8. the layer's bytes do not depend on the builder
def test_the_layer_leaves_out_console_scripts_and_their_record_lines(tmp_path: Path) -> None:
    python = tmp_path / "python"
    (python / "bin").mkdir(parents=True)
    (python / "bin" / "tool").write_text("#!/home/builder/.venv/bin/python\n")
    (python / "pkg-1.dist-info").mkdir()
    (python / "pkg-1.dist-info" / "RECORD").write_text("pkg/__init__.py,sha256=x,1\n../../bin/tool,sha256=y,2\n")
    (python / "pkg").mkdir()
    (python / "pkg" / "__init__.py").write_text("")
    _drop_outside_entries(python)
    assert [p.as_posix() for p in layer_files(python)] == ["python/pkg-1.dist-info/RECORD", "python/pkg/__init__.py"]
    assert (python / "pkg-1.dist-info" / "RECORD").read_text() == "pkg/__init__.py,sha256=x,1\n"


def test_the_layer_has_one_name_under_mocks_and_in_a_real_build() -> None:
    plan = run_offline("dev")
    layer = plan.one("aws:lambda/layerVersion:LayerVersion", "dependencies")
    expected = layer_archive_path(ROOT / "functions" / "requirements.txt", ROOT / ".build", "3.12", "arm64")
    assert str(layer.inputs["code"].path) == str(expected)


# 9. lifecycle rules name exactly one filter
def test_an_empty_lifecycle_filter_is_named_and_the_stack_has_none() -> None:
    bad = _resource("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    {"rules": [{"id": "all", "filter": {}}]})
    assert "filter must name exactly one of" in list(limits.lifecycle_filters(bad))[0]
    for stage in STAGES:
        assert limits.check(run_offline(stage)).problems == [], stage


def _stage(stage: str) -> dict[str, str]:
    from components.offline import stage_config
    return stage_config(stage)


def _unknowns(value):
    from pulumi.output import Unknown
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns(v) for v in value]
    return value
