"""A WSGI app served on a free loopback port by werkzeug's threaded server, in a background thread.

The local gateway, the Lambda Invoke API, the `@connections` endpoint and the provider fakes are all real HTTP
servers a client reaches over a socket (boto3, requests, the OpenAI SDK, a browser), not in-process shortcuts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns everything else


class ServedApp:
    def __init__(self, app: Any, name: str, port: int = 0) -> None:
        self.name = name
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"http-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServedApp":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
