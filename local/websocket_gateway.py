"""The WebSocket API, locally: `$connect` through the REQUEST authorizer, `$disconnect`, routing on
`$request.body.action` (unknown actions -> `$default`), and the `@connections` management endpoint functions post
to with boto3's `apigatewaymanagementapi` client (a posted message reaches the socket; an unknown id gets 410 Gone).

The socket server is the `websockets` library on its own event loop thread; the management endpoint is a plain
HTTP server at `<management_url>/@connections/{id}`, the shape of API Gateway's callback URL.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from werkzeug.wrappers import Request, Response

from functions.manifest import websocket_routes
from local.http_server import ServedApp
from local.lambda_runtime import ACCOUNT_ID, LambdaRuntime

STAGE = "live"


def _new_connection_id() -> str:
    return base64.b64encode(os.urandom(10)).decode()


class WebSocketGateway:
    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime = runtime
        self._handlers = {route.route_key: spec.name for route, spec in websocket_routes()}
        self._connections: dict[str, ServerConnection] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="websocket-gateway")
        self.port = 0
        self.management = ServedApp(self._management_app, "connections")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def management_url(self) -> str:
        """What functions get as WEBSOCKET_ENDPOINT (API Gateway's `https://{api}.execute-api.../{stage}`)."""
        return f"{self.management.url}/{STAGE}"

    def start(self) -> "WebSocketGateway":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[index]
        self.management.start()
        return self

    async def _serve(self) -> Server:
        return await serve(self._session, "127.0.0.1", 0, process_request=self._authorize)

    def stop(self) -> None:
        self.management.stop()
        if self._server is not None:
            self._server.close()
            asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def open_connections(self) -> list[str]:
        return list(self._connections)

    # -- events
    def _context(self, connection_id: str, route_key: str, event_type: str) -> dict[str, Any]:
        meta = self._meta.get(connection_id, {})
        now = dt.datetime.now(dt.timezone.utc)
        context = {
            "routeKey": route_key, "eventType": event_type, "connectionId": connection_id,
            "messageDirection": "IN", "stage": STAGE, "apiId": "local", "domainName": "127.0.0.1",
            "requestId": base64.b64encode(os.urandom(12)).decode(), "extendedRequestId": _new_connection_id(),
            "requestTimeEpoch": int(time.time() * 1000), "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "connectedAt": meta.get("connectedAt", int(time.time() * 1000)),
            "identity": {"sourceIp": meta.get("sourceIp", "127.0.0.1")},
        }
        if meta.get("authorizer"):
            context["authorizer"] = meta["authorizer"]
        return context

    async def _invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        name = self._handlers.get(route_key) or self._handlers["$default"]
        return await self._loop.run_in_executor(None, self.runtime.invoke, name, event)

    async def _authorize(self, connection: ServerConnection, request: Any) -> Any:
        """The handshake: REQUEST authorizer, then `$connect`; either refusing ends it with an HTTP error."""
        query = dict(parse_qsl(urlsplit(request.path).query))
        connection_id = _new_connection_id()
        headers = {key.lower(): value for key, value in request.headers.raw_items()}
        self._meta[connection_id] = {"connectedAt": int(time.time() * 1000),
                                     "sourceIp": connection.remote_address[0]}
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:local/{STAGE}/$connect",
            "headers": headers, "queryStringParameters": query,
            "requestContext": self._context(connection_id, "$connect", "CONNECT"),
        }
        authorized = await self._loop.run_in_executor(None, self.runtime.invoke, "websocketAuthorizer",
                                                      authorizer_event)
        if not authorized.ok:
            self._meta.pop(connection_id, None)
            return connection.respond(401 if "Unauthorized" in str(authorized.error) else 500, "Unauthorized\n")
        policy = authorized.result or {}
        statements = (policy.get("policyDocument") or {}).get("Statement") or []
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            self._meta.pop(connection_id, None)
            return connection.respond(403, "Forbidden\n")
        self._meta[connection_id]["authorizer"] = {**(policy.get("context") or {}),
                                                   "principalId": policy.get("principalId")}
        connect = await self._invoke("$connect", {
            "headers": headers, "queryStringParameters": query, "isBase64Encoded": False,
            "requestContext": self._context(connection_id, "$connect", "CONNECT")})
        status = (connect.result or {}).get("statusCode", 200) if connect.ok else 500
        if status != 200:
            self._meta.pop(connection_id, None)
            return connection.respond(status if 400 <= status < 600 else 500, "Connection refused\n")
        connection.connection_id = connection_id  # type: ignore[attr-defined]
        return None

    async def _session(self, connection: ServerConnection) -> None:
        connection_id: str = connection.connection_id  # type: ignore[attr-defined]
        self._connections[connection_id] = connection
        try:
            async for message in connection:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                try:
                    action = json.loads(text).get("action")
                except (ValueError, AttributeError):
                    action = None
                route = action if isinstance(action, str) and action in self._handlers \
                    and not action.startswith("$") else "$default"
                await self._invoke(route, {"body": text, "isBase64Encoded": False,
                                           "requestContext": self._context(connection_id, route, "MESSAGE")})
        except ConnectionClosed:
            pass
        finally:
            self._connections.pop(connection_id, None)
            await self._invoke("$disconnect", {"isBase64Encoded": False,
                                               "requestContext": self._context(connection_id, "$disconnect",
                                                                               "DISCONNECT")})
            self._meta.pop(connection_id, None)

    # -- @connections
    def _management_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        prefix = f"/{STAGE}/@connections/"
        if not request.path.startswith(prefix):
            return _error(404, "NotFoundException", "no such resource")(environ, start_response)
        connection_id = request.path[len(prefix):]
        connection = self._connections.get(connection_id)
        if connection is None:
            return _error(410, "GoneException", "Gone")(environ, start_response)
        if request.method == "POST":
            data = request.get_data()
            try:
                text = data.decode("utf-8")
                asyncio.run_coroutine_threadsafe(connection.send(text), self._loop).result(5)
            except UnicodeDecodeError:
                asyncio.run_coroutine_threadsafe(connection.send(data), self._loop).result(5)
            except ConnectionClosed:
                return _error(410, "GoneException", "Gone")(environ, start_response)
            return Response(status=200)(environ, start_response)
        if request.method == "DELETE":
            asyncio.run_coroutine_threadsafe(connection.close(), self._loop).result(5)
            return Response(status=204)(environ, start_response)
        meta = self._meta.get(connection_id, {})
        return Response(json.dumps({"connectedAt": meta.get("connectedAt"),
                                    "identity": {"sourceIp": meta.get("sourceIp")}}),
                        content_type="application/json")(environ, start_response)


def _error(status: int, error_type: str, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json",
                    headers={"x-amzn-ErrorType": error_type})
