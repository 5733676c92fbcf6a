"""One Lambda per manifest entry, with its own log group, role and exactly-scoped policy.

Python 3.12 on the stage's architecture, memory/timeout from the manifest, the shared deterministic code archive
and dependency layer, JSON logs into a log group with the stage's retention. Asynchronously invoked functions get
bounded retries and the stage's failure queue as on-failure destination; latency-sensitive API functions get an
alias with provisioned concurrency when the stage asks for it (routes then target the alias).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.iam import ResolvedArns, assume_role_policy, function_policy
from components.packaging import Artifact
from functions.manifest import FunctionSpec, function_environment, is_invoked_async

RUNTIME = "python3.12"
MAX_EVENT_AGE_SECONDS = 6 * 3600
ALIAS = "live"


@dataclass(frozen=True)
class FunctionDependencies:
    """What a function may be wired to: outputs of the other components, by logical name."""

    table_names: Mapping[str, pulumi.Output[str]]
    table_arns: Mapping[str, pulumi.Output[str]]
    bucket_names: Mapping[str, pulumi.Output[str]]
    bucket_arns: Mapping[str, pulumi.Output[str]]
    parameter_names: Mapping[str, pulumi.Output[str]]
    parameter_arns: Mapping[str, pulumi.Output[str]]
    failure_queue_arn: pulumi.Output[str]
    code: Artifact
    layer_arn: pulumi.Input[str]
    extra_environment: Mapping[str, pulumi.Input[str]]  # stage-wide values (models, service name)
    user_pool_environment: Mapping[str, pulumi.Input[str]] | None = None
    websocket_endpoint: pulumi.Input[str] | None = None
    table_stream_arns: Mapping[str, pulumi.Output[str]] = dataclasses.field(default_factory=dict)
    account_id: pulumi.Input[str] = ""


def physical_name(stage: str, function_name: str) -> str:
    return f"mumble-{stage}-{function_name}"


class AppFunction(pulumi.ComponentResource):
    """`function`, `invoke_arn`/`target_arn` (of the alias when provisioned), `qualifier`, `role`, `log_group`."""

    def __init__(self, spec: FunctionSpec, config: StageConfig, deps: FunctionDependencies,
                 function_arns: Mapping[str, pulumi.Output[str]],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:function:AppFunction", spec.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.spec = spec
        function_name = physical_name(config.stage, spec.name)

        self.log_group = aws.cloudwatch.LogGroup(
            spec.name, name=f"/aws/lambda/{function_name}", retention_in_days=config.logRetentionDays, opts=child)
        self.role = aws.iam.Role(spec.name, assume_role_policy=assume_role_policy(),
                                 description=f"{function_name}: exactly what the function manifest declares",
                                 opts=child)
        async_invoked = is_invoked_async(spec)
        in_vpc = spec.legacy_database and bool(config.legacySubnetIds)
        resolved = pulumi.Output.all(
            tables=pulumi.Output.all(**{a.table: deps.table_arns[a.table] for a in spec.tables}),
            buckets=pulumi.Output.all(**{b.bucket: deps.bucket_arns[b.bucket] for b in spec.buckets}),
            parameters=pulumi.Output.all(**{s: deps.parameter_arns[s] for s in spec.secrets}),
            functions=pulumi.Output.all(**{f: function_arns[f] for f in spec.invokes}),
            log_group=self.log_group.arn,
            failure_queue=deps.failure_queue_arn if async_invoked or spec.stream_triggers else None,
            streams=pulumi.Output.all(**{t.table: deps.table_stream_arns[t.table] for t in spec.stream_triggers}),
            network=_network_arns(config, deps.account_id) if in_vpc else None,
        )
        self.policy = aws.iam.RolePolicy(
            spec.name, role=self.role.id,
            policy=resolved.apply(lambda r: json.dumps(function_policy(spec, ResolvedArns(**r)))), opts=child)

        provisioned = config.provisionedConcurrency if spec.latency_sensitive else 0
        self.function = aws.lambda_.Function(
            spec.name,
            name=function_name,
            description=spec.description,
            role=self.role.arn,
            runtime=RUNTIME,
            architectures=[config.lambdaArchitecture],
            handler=spec.handler,
            code=pulumi.FileArchive(str(deps.code.path)),
            source_code_hash=deps.code.sha256_b64,
            layers=[deps.layer_arn],
            memory_size=spec.memory_mb,
            timeout=spec.timeout_s,
            publish=provisioned > 0,
            environment={"variables": self._environment(spec, config, deps)},
            vpc_config={"subnet_ids": list(config.legacySubnetIds),
                        "security_group_ids": list(config.legacySecurityGroupIds)} if in_vpc else None,
            logging_config={"log_format": "JSON", "log_group": self.log_group.name,
                            "application_log_level": "INFO", "system_log_level": "WARN"},
            tags={"mumble:stage": config.stage, "mumble:function": spec.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy, self.log_group]),
        )
        if async_invoked:
            aws.lambda_.FunctionEventInvokeConfig(
                spec.name, function_name=self.function.name,
                maximum_retry_attempts=spec.async_retries, maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
                destination_config={"on_failure": {"destination": deps.failure_queue_arn}}, opts=child)

        for trigger in spec.stream_triggers:
            aws.lambda_.EventSourceMapping(
                f"{spec.name}-{trigger.table}", event_source_arn=deps.table_stream_arns[trigger.table],
                function_name=self.function.arn, starting_position="TRIM_HORIZON", batch_size=trigger.batch_size,
                maximum_batching_window_in_seconds=trigger.batching_window_s,
                maximum_retry_attempts=trigger.max_retries, bisect_batch_on_function_error=True,
                function_response_types=["ReportBatchItemFailures"],
                destination_config={"on_failure": {"destination_arn": deps.failure_queue_arn}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]))

        self.qualifier: str | None = None
        self.invoke_arn = self.function.invoke_arn
        self.target_arn = self.function.arn  # what triggers point at: the alias when there is one
        if provisioned:
            alias = aws.lambda_.Alias(spec.name, name=ALIAS, function_name=self.function.name,
                                      function_version=self.function.version, opts=child)
            aws.lambda_.ProvisionedConcurrencyConfig(
                spec.name, function_name=self.function.name, qualifier=alias.name,
                provisioned_concurrent_executions=provisioned, opts=child)
            self.qualifier = ALIAS
            self.invoke_arn = alias.invoke_arn
            self.target_arn = alias.arn
        self.arn = self.function.arn
        self.name = self.function.name
        self.register_outputs({"name": self.name, "arn": self.arn})

    def allow_invoke(self, resource_name: str, principal: str, source_arn: pulumi.Input[str],
                     source_account: pulumi.Input[str] | None = None) -> aws.lambda_.Permission:
        """Let one AWS service invoke this function, from one source ARN only."""
        return aws.lambda_.Permission(
            resource_name, action="lambda:InvokeFunction", function=self.function.name, qualifier=self.qualifier,
            principal=principal, source_arn=source_arn, source_account=source_account,
            opts=pulumi.ResourceOptions(parent=self))

    @staticmethod
    def _environment(spec: FunctionSpec, config: StageConfig,
                     deps: FunctionDependencies) -> dict[str, pulumi.Input[str]]:
        """Names, never secrets: tables, buckets, parameter names, invoked functions, stage-wide settings."""
        return function_environment(
            spec, config.stage, tables=deps.table_names, buckets=deps.bucket_names,
            parameters=deps.parameter_names,
            function_names={target: physical_name(config.stage, target) for target in spec.invokes},
            websocket_endpoint=deps.websocket_endpoint, user_pool=deps.user_pool_environment,
            shared=deps.extra_environment)


def _network_arns(config: StageConfig, account_id: pulumi.Input[str]) -> pulumi.Output[dict[str, list[str]]]:
    """The ARNs of the legacy network's subnets and security groups and of the interfaces Lambda makes in them."""
    def arns(account: str) -> dict[str, list[str]]:
        prefix = f"arn:aws:ec2:{config.region}:{account}"
        return {"subnets": [f"{prefix}:subnet/{subnet}" for subnet in config.legacySubnetIds],
                "security_groups": [f"{prefix}:security-group/{group}" for group in config.legacySecurityGroupIds],
                "network_interfaces": [f"{prefix}:network-interface/*"]}
    return pulumi.Output.from_input(account_id).apply(arns)
