"""The policy pack as the CLI starts it: `policy/venv/bin/python -u -m pulumi.policy <engine> policy` (the
`runtime.options.virtualenv` of PulumiPolicy.yaml; the venv is made from policy/requirements.txt as `make
policy-venv` makes it), then the Analyzer gRPC calls a preview makes: GetAnalyzerInfo, Analyze per resource and
AnalyzeStack over all of them. Fed each stage's plan twice - as a preview of an existing stack sees it, and with
unknown ids as a first preview sends them - every diagnostic is a problem, and an advisory one means a rule could
not run. Canaries (a known-bad resource per rule) prove each mandatory rule still fires through the real pack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi.output import Unknown

from components.offline import OfflinePlan, PlannedResource
from rehearsal.result import Result

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for a value not known in a preview
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
STARTUP_TIMEOUT_S = 60


def ensure_venv(policy_dir: Path) -> str | None:
    """policy/venv from policy/requirements.txt (as `make policy-venv`); an error line when it cannot be made."""
    venv = policy_dir / "venv"
    stamp = venv / ".installed"
    requirements = policy_dir / "requirements.txt"
    if stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime:
        return None
    for command in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                    [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     "-r", str(requirements)]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return f"could not make policy/venv ({' '.join(command[:4])}): {done.stderr.strip()[-300:]}"
    stamp.touch()
    return None


class RunningPack:
    """The pack's process and a client of its Analyzer service."""

    def __init__(self, policy_dir: Path) -> None:
        venv = (policy_dir / "venv").resolve()
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"}
        env.pop("PYTHONHOME", None)
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            [str(venv / "bin" / "python"), "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(policy_dir.resolve())],
            cwd=policy_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            error = self.process.stderr.read() if self.process.stderr else ""
            self.process.kill()
            raise RuntimeError(f"the policy pack did not start: {error.strip()[-400:] or port}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=STARTUP_TIMEOUT_S)
        self.analyzer = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        from google.protobuf import empty_pb2
        return self.analyzer.GetAnalyzerInfo(empty_pb2.Empty())

    def analyze(self, resources: list[PlannedResource]) -> list[Any]:
        diagnostics = []
        for resource in resources:
            diagnostics += self.analyzer.Analyze(analyzer_pb2.AnalyzeRequest(
                type=resource.type, properties=_struct(resource.inputs), urn=resource.urn, name=resource.name,
                options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent),
            )).diagnostics
        stack = analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(
            type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name, parent=r.parent,
            options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent),
            propertyDependencies={key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                                  for key, urns in r.property_dependencies.items()},
        ) for r in resources])
        return diagnostics + list(self.analyzer.AnalyzeStack(stack).diagnostics)

    def close(self) -> None:
        self.channel.close()
        self.process.kill()
        self.process.wait()


def check(policy_dir: Path, plans: Iterable[tuple[str, OfflinePlan]]) -> Result:
    result = Result("policy pack: started as the CLI starts it, fed every plan (also with unknown ids)")
    problem = ensure_venv(policy_dir)
    if problem:
        result.problems.append(problem)
        return result
    try:
        pack = RunningPack(policy_dir)
    except (RuntimeError, grpc.FutureTimeoutError) as error:
        result.problems.append(str(error))
        return result
    try:
        info = pack.info()
        advisory = [p.name for p in info.policies if p.enforcementLevel != MANDATORY]
        if advisory:
            result.problems.append(f"policies not mandatory: {', '.join(advisory)}")
        for label, plan in plans:
            custom = [r for r in plan.resources if r.custom]
            for diagnostic in pack.analyze(custom):
                level = analyzer_pb2.EnforcementLevel.Name(diagnostic.enforcementLevel).lower()
                result.problems.append(f"{label}: {diagnostic.policyName} ({level}) {diagnostic.urn.split('::')[-1]}: "
                                       f"{diagnostic.message or diagnostic.description}")
            result.figures.append(f"{label}: {len(custom)} resources, 0 violations expected")
        fired = {d.policyName for d in pack.analyze(canaries()) if d.enforcementLevel == MANDATORY}
        missed = sorted({p.name for p in info.policies} - fired)
        if missed:
            result.problems.append(f"rules that let their known-bad canary through the real pack: {', '.join(missed)}")
        result.figures.append(f"{info.name}: {len(info.policies)} mandatory policies; each fired on its canary")
    finally:
        pack.close()
    return result


def canaries() -> list[PlannedResource]:
    """One known-bad resource (or group) per rule, shaped as the engine sends them, unknown ids included."""
    def res(type_: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None) -> PlannedResource:
        return PlannedResource(urn=_urn(type_, name), type=type_, name=name, parent="", inputs=inputs, custom=True,
                               protect=False, retain_on_delete=False, ignore_changes=(), provider="",
                               property_dependencies=deps or {})
    wildcard = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    bucket = res("aws:s3/bucket:Bucket", "canary-bucket", {"bucket": "canary-bucket-abc", "acl": "public-read"})
    topic = res("aws:sns/topic:Topic", "canary-topic", {"name": "canary", "kmsMasterKeyId": "alias/aws/sns"})
    return [
        bucket,  # no-public-buckets; buckets-private-encrypted-tls-only (no block, encryption or policy)
        res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "canary-block",
            {"bucket": Unknown(), "blockPublicAcls": False}, {"bucket": [_urn("aws:s3/bucket:Bucket", "other")]}),
        res("aws:dynamodb/table:Table", "canary-table", {"name": "canary", "tags": {"mumble:stage": "prod"}}),
        # Inline policies arrive as a list: pulumi-policy hands the rule a proxy, not a `list`.
        res("aws:iam/role:Role", "canary-role", {"inlinePolicies": [{"name": "x", "policy": _json(wildcard)}]}),
        res("aws:lambda/function:Function", "canary-function", {"runtime": "python3.8", "architectures": ["arm64"]}),
        res("aws:cloudwatch/logGroup:LogGroup", "canary-logs", {"name": "/aws/lambda/canary"}),
        topic,
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "canary-alarm", {"name": "canary", "alarmActions": [Unknown()]},
            {"alarmActions": [topic.urn]}),
    ]


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:rehearsal::mumble::{type_}::{name}"


def _json(value: Any) -> str:
    import json
    return json.dumps(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN_STRING
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)  # assets and archives: their identity does not matter to the rules


def _struct(inputs: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_plain(inputs))
    return struct


