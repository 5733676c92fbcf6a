"""The HTTP API: routes from the function manifest, Lambda proxy integrations (payload 2.0), Cognito JWT on every
route but the public ones, CORS limited to the stage's origins, JSON access logs and stage throttling.

Routes carry the `/api/v1` prefix, so CloudFront forwards `/api/*` to this API unchanged (same origin as the site,
no CORS needed from the site itself). Each Lambda permission is scoped to its own route on this API.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.access_logs import HTTP_FORMAT, access_log_group
from components.config import StageConfig
from components.function import AppFunction
from functions.manifest import http_routes

INTEGRATION_TIMEOUT_MS = 29_000
CORS_HEADERS = ["authorization", "content-type", "idempotency-key"]


class HttpApi(pulumi.ComponentResource):
    """`api`, `url` (stage invoke URL), `domain` (host name for the CloudFront origin), `routes`."""

    def __init__(self, name: str, config: StageConfig, cors_origins: pulumi.Input[Sequence[str]],
                 issuer: pulumi.Input[str], audience: pulumi.Input[str], functions: Mapping[str, AppFunction],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:http_api:HttpApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.api = aws.apigatewayv2.Api(
            name, name=f"mumble-{config.stage}-http", protocol_type="HTTP",
            cors_configuration={"allow_origins": cors_origins, "allow_methods": ["GET", "POST", "PUT", "DELETE"],
                                "allow_headers": CORS_HEADERS, "max_age": 600},
            opts=child)
        self.authorizer = aws.apigatewayv2.Authorizer(
            name, api_id=self.api.id, name="cognito", authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration={"issuer": issuer, "audiences": [audience]}, opts=child)

        integrations: dict[str, aws.apigatewayv2.Integration] = {}
        self.routes: dict[str, aws.apigatewayv2.Route] = {}
        for route, spec in http_routes():
            function = functions[spec.name]
            if spec.name not in integrations:
                integrations[spec.name] = aws.apigatewayv2.Integration(
                    f"{name}-{spec.name}", api_id=self.api.id, integration_type="AWS_PROXY",
                    integration_uri=function.invoke_arn, payload_format_version="2.0",
                    timeout_milliseconds=INTEGRATION_TIMEOUT_MS, opts=child)
            slug = f"{route.method.lower()}{route.full_path.replace('/', '-').replace('{', '').replace('}', '')}"
            self.routes[route.route_key] = aws.apigatewayv2.Route(
                f"{name}-{slug}", api_id=self.api.id, route_key=route.route_key,
                target=integrations[spec.name].id.apply(lambda i: f"integrations/{i}"),
                authorization_type="NONE" if route.public else "JWT",
                authorizer_id=None if route.public else self.authorizer.id, opts=child)
            function.allow_invoke(f"{name}-{slug}", "apigateway.amazonaws.com",
                                  self.api.execution_arn.apply(lambda arn, r=route: f"{arn}/*/{r.method}{r.full_path}"))

        logs = access_log_group(f"{name}-access", f"/aws/apigateway/mumble-{config.stage}-http",
                                config.logRetentionDays, self)
        self.stage = aws.apigatewayv2.Stage(
            name, api_id=self.api.id, name="$default", auto_deploy=True,
            default_route_settings={"throttling_rate_limit": config.apiThrottleRateLimit,
                                    "throttling_burst_limit": config.apiThrottleBurstLimit,
                                    "detailed_metrics_enabled": True},
            access_log_settings={"destination_arn": logs.arn, "format": HTTP_FORMAT}, opts=child)
        self.url = self.stage.invoke_url
        self.domain = self.api.api_endpoint.apply(lambda endpoint: endpoint.removeprefix("https://"))
        self.register_outputs({"url": self.url})
