"""One local Lambda execution environment: a fresh interpreter that imports the handler once (the cold start) and
then serves events from stdin one at a time, answering on its own pipe.

Protocol: one JSON line in (`{"event", "context"}`), one JSON line out (`{"result"}` or `{"error"}`). The handler's
own stdout (Powertools logs and metrics) goes to stderr, which the runtime collects as the function's log.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools use."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.function_name: str = data["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = data["invokedFunctionArn"]
        self.memory_limit_in_mb: int = data["memoryLimitInMB"]
        self.aws_request_id: str = data["requestId"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline_ms: int = data["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {"errorType": error_type or type(error).__name__, "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error)}


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    module_name, _, function = sys.argv[1].rpartition(".")
    init_error = None
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function)
    except Exception as error:  # noqa: BLE001 - reported on every invocation, as Lambda does
        init_error = _error(error, "Runtime.ImportModuleError")
    protocol.write(json.dumps({"ready": True, "initMs": round((time.perf_counter() - started) * 1000, 1)}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if init_error:
            protocol.write(json.dumps({"error": init_error}) + "\n")
            continue
        try:
            result = handler(request["event"], LambdaContext(request["context"]))
            answer = json.dumps({"result": result})
        except Exception as error:  # noqa: BLE001 - a function error, returned to the invoker
            answer = json.dumps({"error": _error(error)})
        protocol.write(answer + "\n")


if __name__ == "__main__":
    main()
