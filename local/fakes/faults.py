"""Scripted misbehaviour for a fake provider: the next N requests to a path answer a status or arrive late.

Tests and `make dev` users drive it in-process (`fail`, `delay`) or over HTTP (`POST /_fake/faults`,
`{"path": ..., "status": 429, "times": 1}` or `{"path": ..., "delay": 5, "times": 3}`; `DELETE /_fake/faults`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from werkzeug.wrappers import Request, Response


@dataclass
class Fault:
    path: str
    times: int
    status: int | None = None
    delay_s: float = 0.0


class FaultyApp:
    """A WSGI app whose `route(request)` is the provider; faults and request counts wrap it."""

    def __init__(self, route: Callable[[Request], Response]) -> None:
        self._route = route
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()

    def fail(self, path: str, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.append(Fault(path, times, status=status))

    def delay(self, path: str, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults.append(Fault(path, times, delay_s=seconds))

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path == path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/_fake/faults":
            return self._control(request)(environ, start_response)
        self.requests[request.path] += 1
        fault = self._next_fault(request.path)
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault and fault.status:
            response = error_response(fault.status, f"injected fault {fault.status}")
            if fault.status == 429:
                response.headers["retry-after-ms"] = "50"
            return response(environ, start_response)
        return self._route(request)(environ, start_response)

    def _control(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.reset()
            return Response(status=204)
        try:
            spec = json.loads(request.get_data() or b"{}")
            if "status" in spec:
                self.fail(spec["path"], int(spec["status"]), int(spec.get("times", 1)))
            else:
                self.delay(spec["path"], float(spec["delay"]), int(spec.get("times", 1)))
        except (ValueError, KeyError, TypeError) as error:
            return error_response(400, f"expected {{path, status|delay, times}}: {error}")
        return Response(status=204)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def error_response(status: int, message: str, code: str | None = None) -> Response:
    """The error envelope OpenAI uses (OpenWeather's `{cod, message}` is close enough for our client)."""
    return json_response({"error": {"message": message, "type": "server_error" if status >= 500 else
                                    "invalid_request_error", "code": code}, "cod": status, "message": message},
                         status)
