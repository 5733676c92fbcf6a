"""Run the Pulumi program offline under Pulumi's own mocks and record every resource it would create.

Used by the tests (every stage, every property) and by `make plan STAGE=...` (the offline plan). No Pulumi CLI,
no provider plugin, no credentials: the mocks answer each registration with its inputs plus the computed
outputs a real provider would add (ARNs, ids, endpoints), so the program's wiring resolves as in a preview.
Config comes from the stage file exactly as the CLI would pass it; secrets get placeholders marked secret.

Two ways to answer registrations: `unknown_ids=False` (the default) echoes the inputs plus computed outputs, as a
preview of an existing stack sees them; `unknown_ids=True` answers as a *first* preview does: no id and no
computed output (ARNs, endpoints) is known yet, only the inputs and the names Pulumi generates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import Stack

from components.config import NAMESPACE, SECRET_KEYS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
PLACEHOLDER_SECRET = "offline-placeholder-secret"


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    custom: bool
    protect: bool
    retain_on_delete: bool
    ignore_changes: tuple[str, ...]
    provider: str
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # property -> URNs its value uses


@dataclass
class OfflinePlan:
    stage: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_token} named {name}")
        return matches[0]

    def children(self, urn: str) -> Iterator[PlannedResource]:
        return (r for r in self.resources if r.parent == urn)


def stage_config(stage: str) -> dict[str, str]:
    """The stage file's config as the CLI hands it to the program (strings; lists and maps as JSON)."""
    path = PROJECT_ROOT / f"Pulumi.{stage}.yaml"
    values = (yaml.safe_load(path.read_text()) or {}).get("config", {}) if path.exists() else {}
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


class _Mocks(pulumi.runtime.Mocks):
    """Inputs echoed back, plus the outputs a provider computes, derived from the resource name."""

    def __init__(self, region: str, unknown_ids: bool = False) -> None:
        self.region = region
        self.unknown_ids = unknown_ids

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        token = args.typ.split(":")
        service = token[1].split("/")[0] if len(token) > 1 else "x"
        physical = outputs.get("name") or outputs.get("bucket") or f"{args.name}-{_short(args.name)[:7]}"
        if self.unknown_ids:  # a first preview: only the inputs and the generated names are known
            outputs.setdefault("bucket" if args.typ == "aws:s3/bucket:Bucket" else "name", physical)
            return "", outputs
        resource_id = f"{args.name}-id"
        arn = f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{args.name}"
        outputs.setdefault("arn", arn)
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = physical
            outputs["arn"] = f"arn:aws:s3:::{physical}"
            outputs["bucketRegionalDomainName"] = f"{physical}.s3.{self.region}.amazonaws.com"
            resource_id = physical
        elif args.typ == "aws:lambda/function:Function":
            outputs["arn"] = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{physical}"
            outputs["invokeArn"] = f"arn:aws:apigateway:{self.region}:lambda:path/functions/{outputs['arn']}/invocations"
            outputs["version"] = "1"
        elif args.typ == "aws:lambda/alias:Alias":
            outputs["arn"] = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{outputs['functionName']}:{physical}"
            outputs["invokeArn"] = f"arn:aws:apigateway:{self.region}:lambda:path/functions/{outputs['arn']}/invocations"
        elif args.typ == "aws:apigatewayv2/api:Api":
            scheme = "wss" if outputs.get("protocolType") == "WEBSOCKET" else "https"
            api_id = _short(args.name)[:10]
            resource_id = api_id
            outputs["apiEndpoint"] = f"{scheme}://{api_id}.execute-api.{self.region}.amazonaws.com"
            outputs["executionArn"] = f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}"
        elif args.typ == "aws:apigatewayv2/stage:Stage":
            outputs["invokeUrl"] = f"https://api.execute-api.{self.region}.amazonaws.com/"
        elif args.typ == "aws:cloudfront/distribution:Distribution":
            outputs["domainName"] = f"d{_short(args.name)[:12].lower()}.cloudfront.net"
            outputs["arn"] = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{resource_id}"
        elif args.typ == "aws:cognito/userPool:UserPool":
            resource_id = f"{self.region}_{_short(args.name)[:9]}"
            outputs["arn"] = f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{resource_id}"
        elif args.typ == "aws:dynamodb/table:Table":
            outputs["arn"] = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{physical}"
            if outputs.get("streamEnabled"):
                outputs["streamArn"] = f"{outputs['arn']}/stream/2026-01-01T00:00:00.000"
        elif args.typ == "aws:ssm/parameter:Parameter":
            outputs["arn"] = f"arn:aws:ssm:{self.region}:{ACCOUNT_ID}:parameter{physical}"
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{physical}"
        elif args.typ == "aws:sqs/queue:Queue":
            outputs["arn"] = f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{physical}"
            outputs["name"] = physical
        elif args.typ == "aws:acm/certificate:Certificate":
            outputs["domainValidationOptions"] = [{
                "domainName": outputs.get("domainName"), "resourceRecordName": f"_x.{outputs.get('domainName')}.",
                "resourceRecordType": "CNAME", "resourceRecordValue": "_y.acm-validations.aws."}]
        elif args.typ == "aws:route53/record:Record":
            outputs["fqdn"] = outputs.get("name")
        outputs.setdefault("name", physical)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
                    "userId": "offline", "id": ACCOUNT_ID}, []
        return {}, []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping the resource options a reviewer cares about (parent, protect, ...)."""

    def __init__(self, mocks: _Mocks, plan: OfflinePlan) -> None:
        super().__init__(mocks)
        self.plan = plan

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.plan.resources.append(PlannedResource(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                inputs=self.resources[response.urn].state if response.urn in self.resources else {},
                custom=request.custom, protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=tuple(request.ignoreChanges), provider=request.provider,
                property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()}))
        return response


def run_offline(stage: str, config: Mapping[str, str] | None = None,
                secrets: Mapping[str, str] | None = None, *, build_layer: bool = False,
                unknown_ids: bool = False) -> OfflinePlan:
    """Run the program for `stage` under mocks. `config` defaults to the stage file (full keys, e.g.
    `mumble:siteDir`); `secrets` to placeholders for every secret key. `build_layer` builds the real layer as
    `pulumi up` does; `unknown_ids` answers as a first preview (see the module docstring). Raises what the
    program raises."""
    from components.stack import BuildOptions, build_stack

    values = dict(stage_config(stage) if config is None else config)
    secret_values = {f"{NAMESPACE}:{key}": PLACEHOLDER_SECRET for key in SECRET_KEYS} if secrets is None \
        else {f"{NAMESPACE}:{key}": value for key, value in secrets.items()}
    values.update(secret_values)
    plan = OfflinePlan(stage)
    region = values.get("aws:region", "us-east-1")
    # set_mocks uses the given monitor's mocks; the first argument is only a fallback.
    mocks = _Mocks(region, unknown_ids)
    pulumi.runtime.set_mocks(mocks, project="mumble", stack=stage, preview=True,
                             monitor=_RecordingMonitor(mocks, plan))
    pulumi.runtime.set_all_config(values, list(secret_values))
    root = get_root_resource()
    if isinstance(root, Stack):
        root.outputs.clear()

    def program() -> pulumi.Output:
        build_stack(BuildOptions(build_layer=build_layer))
        root_resource = get_root_resource()
        exported = dict(root_resource.outputs) if isinstance(root_resource, Stack) else {}
        return pulumi.Output.all(**exported).apply(plan.outputs.update) if exported else pulumi.Output.from_input(0)

    try:
        pulumi.runtime.test(program)()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return plan


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
