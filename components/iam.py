"""Least-privilege IAM documents, built from the function manifest and resolved ARNs (pure: no pulumi calls).

Kept apart from the components so the exact statements a function gets can be read and tested as plain data:
every statement names its actions and the ARNs of exactly the tables (and named indexes), bucket prefixes,
parameters, functions and log group the manifest declares. No `*` action, no `*` resource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from functions.manifest import FunctionSpec


@dataclass(frozen=True)
class ResolvedArns:
    """The ARNs a function's policy can name, once Pulumi knows them."""

    tables: Mapping[str, str]  # logical table name -> table ARN
    buckets: Mapping[str, str]  # logical bucket name -> bucket ARN
    parameters: Mapping[str, str]  # secret name -> SSM parameter ARN
    functions: Mapping[str, str]  # function name -> function ARN
    log_group: str  # the function's own log group ARN
    failure_queue: str | None = None  # on-failure destination of asynchronous invocations and stream records
    streams: Mapping[str, str] = field(default_factory=dict)  # logical table name -> its stream ARN
    network: Mapping[str, list[str]] | None = None  # subnets, security_groups, network_interfaces ARNs (in a VPC)


VPC_DESCRIBE_SID = "VpcDescribe"  # policy/rules.py lists this statement among the documented `*` exceptions


def assume_role_policy(service: str = "lambda.amazonaws.com") -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })


def function_policy(spec: FunctionSpec, arns: ResolvedArns) -> dict[str, Any]:
    """The inline policy of `spec`'s role: its logs, then exactly what the manifest declares."""
    statements: list[dict[str, Any]] = [
        _allow("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [arns.log_group, arns.log_group + ":*"]),
    ]
    for number, access in enumerate(spec.tables):
        table_arn = arns.tables[access.table]
        resources = [table_arn] + [f"{table_arn}/index/{index}" for index in access.indexes]
        statements.append(_allow(f"Table{number}", sorted(access.actions), resources))
    for number, access in enumerate(spec.buckets):
        bucket_arn = arns.buckets[access.bucket]
        statements.append(_allow(f"Objects{number}", sorted(access.actions),
                                 [f"{bucket_arn}/{prefix}*" for prefix in access.prefixes]))
    if spec.secrets:
        statements.append(_allow("Parameters", ["ssm:GetParameter"],
                                 [arns.parameters[name] for name in spec.secrets]))
    if spec.invokes:
        statements.append(_allow("Invoke", ["lambda:InvokeFunction"],
                                 [arns.functions[name] for name in spec.invokes]))
    if spec.stream_triggers:
        statements.append(_allow("Streams", ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                             "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                                 [arns.streams[trigger.table] for trigger in spec.stream_triggers]))
    if arns.failure_queue:
        statements.append(_allow("FailureDestination", ["sqs:SendMessage"], [arns.failure_queue]))
    if arns.network:
        # What Lambda needs to attach the function to its subnets: the interfaces in exactly those subnets and
        # security groups, and the two describe calls, which have no resource-level permissions.
        statements.append(_allow("VpcInterfaces", ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface",
                                                   "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"],
                                 arns.network["network_interfaces"] + arns.network["subnets"] +
                                 arns.network["security_groups"]))
        statements.append(_allow(VPC_DESCRIBE_SID, ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"]))
    return {"Version": "2012-10-17", "Statement": statements}


def manage_connections_policy(websocket_execution_arn: str, stage: str) -> dict[str, Any]:
    """Posting to and deleting WebSocket connections of one API stage, nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        _allow("ManageConnections", ["execute-api:ManageConnections"],
               [f"{websocket_execution_arn}/{stage}/POST/@connections/*",
                f"{websocket_execution_arn}/{stage}/DELETE/@connections/*"]),
    ]}


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
