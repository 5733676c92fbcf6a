"""The site, locally, the way CloudFront serves it: one origin for the built web client (site/dist), the HTTP API
under `/api/*` (the same HttpGateway), `/config.json` and the single-page-app fallback (a path without a file
extension is a client route: /index.html, as components/edge_code/spa_uri.js does), every answer with the stage's
security headers and a Content-Security-Policy built by the same function as the deployed one
(functions/site_spec.py), only with the local media, WebSocket and Cognito origins. Cognito's JSON API is under
`/cognito/` (local/cognito_front.py: moto plus the user-migration trigger).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from functions.manifest import API_PREFIX
from functions.site_spec import (CONFIG_CACHE_CONTROL, CONFIG_FILE, ClientOrigins, cache_control_for,
                                 content_security_policy, content_type_for, security_headers)

COGNITO_PATH = "/cognito/"
WsgiApp = Callable[[dict[str, Any], Any], Any]


class SiteServer:
    def __init__(self, dist: Path, api: WsgiApp, cognito: WsgiApp, origins: ClientOrigins,
                 config: Callable[[str], dict[str, str]]) -> None:
        """`config(origin)` gives config.json for a page served from `origin` (http://host:port)."""
        self.dist, self.api, self.cognito, self.config = dist.resolve(), api, cognito, config
        self.headers = security_headers(content_security_policy(origins))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path.startswith(API_PREFIX.rsplit("/", 1)[0] + "/"):  # /api/*: the API behaviour
            app: WsgiApp = self.api
        elif path == COGNITO_PATH:
            app = self.cognito
        else:
            app = self._site(request)
        return self._with_headers(app)(environ, start_response)

    def _with_headers(self, app: WsgiApp) -> WsgiApp:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                present = {name.lower() for name, _ in headers}
                extra = [(name, value) for name, value in self.headers.items() if name.lower() not in present]
                return start_response(status, headers + extra, exc_info)
            return app(environ, start)
        return wrapped

    def _site(self, request: Request) -> WsgiApp:
        if request.method not in ("GET", "HEAD"):
            return Response("method not allowed", status=405, headers={"Allow": "GET, HEAD"})
        if request.path == "/" + CONFIG_FILE:
            origin = f"{request.scheme}://{request.host}"
            return Response(json.dumps(self.config(origin)), content_type="application/json; charset=utf-8",
                            headers={"Cache-Control": CONFIG_CACHE_CONTROL})
        uri = request.path
        if uri.rfind(".") <= uri.rfind("/"):
            uri = "/index.html"
        file = (self.dist / uri.lstrip("/")).resolve()
        if not file.is_file() or self.dist not in file.parents:
            return Response("<!doctype html><title>404</title><p>Not found</p>", status=404,
                            content_type="text/html; charset=utf-8")
        relative = file.relative_to(self.dist).as_posix()
        return Response(file.read_bytes(), content_type=content_type_for(relative),
                        headers={"Cache-Control": cache_control_for(relative)})
