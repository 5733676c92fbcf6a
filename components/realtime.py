"""The WebSocket API for realtime job updates.

WebSocket APIs have no JWT authorizer, so `$connect` is guarded by a Lambda REQUEST authorizer that verifies the
Cognito token from the `token` query parameter. Created in two steps because the functions that push need the
API's endpoint and the routes need the functions: `WebSocketApi(...)` first, `attach_routes(...)` after.
Only the functions that push get `execute-api:ManageConnections`, on this API's stage only.
"""

from __future__ import annotations

import json
from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.access_logs import WEBSOCKET_FORMAT, access_log_group
from components.config import StageConfig
from components.function import AppFunction
from components.iam import manage_connections_policy
from functions.manifest import FUNCTIONS, websocket_routes

STAGE = "live"
ROUTE_SELECTION = "$request.body.action"
TOKEN_SOURCE = "route.request.querystring.token"


class WebSocketApi(pulumi.ComponentResource):
    """`api`, `url` (wss://...), `management_endpoint` (https://... for @connections)."""

    def __init__(self, name: str, config: StageConfig, account_settings: pulumi.Resource | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        """`account_settings`: the API Gateway account setting the stage's access logs need (when this project
        manages it), so the stage is created after it."""
        super().__init__("mumble:realtime:WebSocketApi", name, None, opts)
        self._api_name = name
        self._config = config
        self._account_settings = account_settings
        self.api = aws.apigatewayv2.Api(name, name=f"mumble-{config.stage}-ws", protocol_type="WEBSOCKET",
                                        route_selection_expression=ROUTE_SELECTION,
                                        opts=pulumi.ResourceOptions(parent=self))
        self.url = self.api.api_endpoint.apply(lambda endpoint: f"{endpoint}/{STAGE}")
        self.management_endpoint = self.api.api_endpoint.apply(
            lambda endpoint: endpoint.replace("wss://", "https://", 1) + f"/{STAGE}")
        self.register_outputs({"url": self.url})

    def attach_routes(self, functions: Mapping[str, AppFunction]) -> None:
        """Routes and integrations from the manifest, the $connect authorizer, the stage, push permissions."""
        name, config = self._api_name, self._config
        child = pulumi.ResourceOptions(parent=self)
        authorizer_spec = next(spec for spec in FUNCTIONS if spec.websocket_authorizer)
        authorizer_function = functions[authorizer_spec.name]
        authorizer = aws.apigatewayv2.Authorizer(
            name, api_id=self.api.id, name="cognito-token", authorizer_type="REQUEST",
            authorizer_uri=authorizer_function.invoke_arn, identity_sources=[TOKEN_SOURCE], opts=child)
        authorizer_function.allow_invoke(f"{name}-authorizer", "apigateway.amazonaws.com",
                                         self.api.execution_arn.apply(lambda arn: f"{arn}/authorizers/*"))
        integrations: dict[str, aws.apigatewayv2.Integration] = {}
        routes = []
        for route, spec in websocket_routes():
            function = functions[spec.name]
            if spec.name not in integrations:
                integrations[spec.name] = aws.apigatewayv2.Integration(
                    f"{name}-{spec.name}", api_id=self.api.id, integration_type="AWS_PROXY",
                    integration_uri=function.invoke_arn, content_handling_strategy="CONVERT_TO_TEXT", opts=child)
            slug = route.route_key.lstrip("$").lower()
            is_connect = route.route_key == "$connect"
            routes.append(aws.apigatewayv2.Route(
                f"{name}-{slug}", api_id=self.api.id, route_key=route.route_key,
                target=integrations[spec.name].id.apply(lambda i: f"integrations/{i}"),
                authorization_type="CUSTOM" if is_connect else "NONE",
                authorizer_id=authorizer.id if is_connect else None, opts=child))
            function.allow_invoke(f"{name}-{slug}", "apigateway.amazonaws.com",
                                  self.api.execution_arn.apply(lambda arn, key=route.route_key: f"{arn}/*/{key}"))
        logs = access_log_group(f"{name}-access", f"/aws/apigateway/mumble-{config.stage}-ws",
                                config.logRetentionDays, self)
        self.stage = aws.apigatewayv2.Stage(
            name, api_id=self.api.id, name=STAGE, auto_deploy=True,
            default_route_settings={"throttling_rate_limit": config.apiThrottleRateLimit,
                                    "throttling_burst_limit": config.apiThrottleBurstLimit},
            access_log_settings={"destination_arn": logs.arn, "format": WEBSOCKET_FORMAT},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*routes, *filter(None, [self._account_settings])]))
        for spec in FUNCTIONS:
            if spec.pushes_to_websocket:
                aws.iam.RolePolicy(
                    f"{name}-{spec.name}-push", role=functions[spec.name].role.id,
                    policy=self.api.execution_arn.apply(
                        lambda arn: json.dumps(manage_connections_policy(arn, STAGE))),
                    opts=child)
