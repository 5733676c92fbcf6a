"""JSON access logs for API Gateway stages (HTTP and WebSocket), one log group per API with the stage retention."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

HTTP_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTimeEpoch",
    "method": "$context.httpMethod", "route": "$context.routeKey", "status": "$context.status",
    "latencyMs": "$context.responseLatency", "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage", "user": "$context.authorizer.claims.sub",
})
WEBSOCKET_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTimeEpoch",
    "route": "$context.routeKey", "event": "$context.eventType", "connectionId": "$context.connectionId",
    "status": "$context.status", "integrationError": "$context.integrationErrorMessage",
    "user": "$context.authorizer.principalId",
})


def access_log_group(name: str, log_name: str, retention_days: int, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(name, name=log_name, retention_in_days=retention_days,
                                   opts=pulumi.ResourceOptions(parent=parent))
