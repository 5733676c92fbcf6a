"""The HTTP API, locally: the manifest's routes served as real payload-2.0 events.

What API Gateway does and this does too: route matching on `METHOD /path/{param}`, the JWT authorizer on every
non-public route (the same checks as the deployed one, against the local Cognito's JWKS; claims reach the function
as strings under `requestContext.authorizer.jwt.claims`), a fresh request id and millisecond time per request,
cookies split out, query and path parameters, base64 bodies for binary content, and the integration limit
(30 s -> 503). API Gateway's own errors keep API Gateway's shape (`{"message": "Unauthorized"}`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.manifest import FunctionSpec, HttpRoute, http_routes
from functions.shared.tokens import InvalidToken, TokenVerifier
from local.lambda_runtime import ACCOUNT_ID, LambdaRuntime

INTEGRATION_TIMEOUT_S = 30.0
TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def _rule_path(route: HttpRoute) -> str:
    return route.full_path.replace("{", "<").replace("}", ">")


def stringify_claims(claims: dict[str, Any]) -> dict[str, str]:
    """HTTP API hands claims over as strings; arrays as `[a b]`."""
    out = {}
    for key, value in claims.items():
        if isinstance(value, bool):
            out[key] = str(value).lower()
        elif isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            out[key] = str(value)
    return out


class HttpGateway:
    def __init__(self, runtime: LambdaRuntime, verifier: TokenVerifier,
                 integration_timeout_s: float = INTEGRATION_TIMEOUT_S) -> None:
        self.runtime, self.verifier, self.integration_timeout_s = runtime, verifier, integration_timeout_s
        self._routes: dict[str, tuple[HttpRoute, FunctionSpec]] = {}
        rules = []
        for route, spec in http_routes():
            self._routes[route.route_key] = (route, spec)
            rules.append(Rule(_rule_path(route), methods=[route.method], endpoint=route.route_key))
        self._map = Map(rules, strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            route_key, path_parameters = adapter.match(method=request.method)
        except Exception:  # noqa: BLE001 - NotFound / MethodNotAllowed both mean "no route" to API Gateway
            return _gateway_error(404, "Not Found")
        route, spec = self._routes[route_key]
        claims = None
        if not route.public:
            try:
                claims = self.verifier.verify(request.headers.get("Authorization"))
            except InvalidToken:
                return _gateway_error(401, "Unauthorized")
        event = self.event(request, route, path_parameters, claims)
        outcome = self.runtime.invoke(spec.name, event, wait_at_most=self.integration_timeout_s)
        if outcome.timed_out and self.runtime.timeout_of(spec.name) > self.integration_timeout_s:
            return _gateway_error(503, "Service Unavailable")
        if not outcome.ok:
            return _gateway_error(500, "Internal Server Error")
        return _response(outcome.result)

    @staticmethod
    def event(request: Request, route: HttpRoute, path_parameters: dict[str, str],
              claims: dict[str, Any] | None) -> dict[str, Any]:
        now = dt.datetime.now(dt.timezone.utc)
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            if key.lower() == "cookie":
                continue
            headers[key.lower()] = f"{headers[key.lower()]},{value}" if key.lower() in headers else value
        raw = request.get_data()
        content_type = request.headers.get("Content-Type", "")
        textual = not raw or content_type.startswith(TEXT_TYPES)
        if textual:
            try:
                body: str | None = raw.decode("utf-8") if raw else None
            except UnicodeDecodeError:
                textual = False
        if not textual:
            body = base64.b64encode(raw).decode()
        query = {key: ",".join(request.args.getlist(key)) for key in request.args}
        cookies = [c.strip() for c in request.headers.get("Cookie", "").split(";") if c.strip()]
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": request.path,
            "rawQueryString": request.query_string.decode(),
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT_ID, "apiId": "local", "domainName": request.host,
                "domainPrefix": request.host.split(".")[0],
                "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                         "sourceIp": request.remote_addr or "127.0.0.1",
                         "userAgent": request.headers.get("User-Agent", "")},
                "requestId": base64.b64encode(os.urandom(12)).decode(),
                "routeKey": route.route_key, "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(time.time() * 1000),
            },
            "isBase64Encoded": not textual,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body is not None:
            event["body"] = body
        if claims is not None:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": stringify_claims(claims), "scopes": None}}
        return event


def _gateway_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def _response(result: Any) -> Response:
    """Payload 2.0: a dict with `statusCode` is a response; anything else is a 200 JSON body."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(key, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    if data and "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response
