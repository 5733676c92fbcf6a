"""Lambda without Docker: each function of the manifest runs in its own worker processes (local/lambda_worker.py),
with its own environment (exactly the variables its manifest entry gives it, nothing from the host), its memory and
timeout, and the two invocation types:

- synchronous (`invoke`): the caller waits; a function that runs past its timeout is killed ("Task timed out") and
  its next invocation starts cold, as in Lambda;
- asynchronous (`invoke_async`): queued and answered at once; a failed attempt is retried `async_retries` times
  with backoff (Lambda waits minutes; here `retry_delays`), then goes to the on-failure destination, which locally
  is `dead_letters` and the log.

Up to `max_concurrency` environments per function serve concurrent calls; idle ones are reused (warm starts).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from functions.manifest import BY_NAME, FunctionSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "000000000000"
READY_TIMEOUT_S = 30.0


@dataclass
class Invocation:
    """The outcome of one call: `result` when the function returned, else `error` (Lambda's error shape)."""

    function: str
    request_id: str
    result: Any = None
    error: dict[str, Any] | None = None
    timed_out: bool = False
    cold: bool = False
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class _Environment:
    """One worker process: spawn, wait for its init, then one event at a time."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], log: Any) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.lambda_worker", spec.handler], cwd=REPO_ROOT, env=dict(env),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"lambda-{spec.name}-out").start()
        ready = self._next_line(READY_TIMEOUT_S)
        if ready is None:
            self.kill()
            raise RuntimeError(f"{spec.name}: the execution environment did not start; see its log")
        self.init_ms = json.loads(ready)["initMs"]
        self.used = False

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout: float) -> str | None:
        try:
            return self._lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def call(self, event: Any, context: dict[str, Any], timeout: float) -> tuple[dict[str, Any] | None, bool]:
        """(answer, timed_out). None without timeout means the process died."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"event": event, "context": context}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, False
        line = self._next_line(timeout)
        if line is None:
            return None, self.process.poll() is None
        return json.loads(line), False

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


class _FunctionPool:
    def __init__(self, spec: FunctionSpec, env: Callable[[], Mapping[str, str]], log_path: Path,
                 max_concurrency: int) -> None:
        self.spec, self._env, self.log_path, self._max = spec, env, log_path, max_concurrency
        self._idle: list[_Environment] = []
        self._busy = 0
        self._cond = threading.Condition()
        self._log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the pool

    def acquire(self) -> tuple[_Environment, bool]:
        with self._cond:
            while not self._idle and self._busy >= self._max:
                self._cond.wait()
            self._busy += 1
            if self._idle:
                return self._idle.pop(), False
        try:
            return _Environment(self.spec, self._env(), self._log), True
        except Exception:
            self.release(None)
            raise

    def release(self, environment: _Environment | None) -> None:
        with self._cond:
            self._busy -= 1
            if environment is not None:
                self._idle.append(environment)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.kill()
        self._log.close()


@dataclass
class DeadLetter:
    function: str
    event: Any
    error: dict[str, Any] | None
    attempts: int


@dataclass
class LambdaRuntime:
    """Runs the manifest's functions. `environment(spec)` gives each function's variables."""

    environment: Callable[[FunctionSpec], Mapping[str, str]]
    log_dir: Path
    timeouts: Mapping[str, float] = field(default_factory=dict)  # overrides of the manifest's, for tests
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    max_concurrency: int = 4
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._pools: dict[str, _FunctionPool] = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition()
        self._closed = False

    # -- invocation
    def timeout_of(self, name: str) -> float:
        return float(self.timeouts.get(name, BY_NAME[name].timeout_s))

    def invoke(self, name: str, event: Any, wait_at_most: float | None = None) -> Invocation:
        """RequestResponse. `wait_at_most` is the caller's own limit (API Gateway's 30 s)."""
        spec = BY_NAME[name]
        request_id = str(uuid.uuid4())
        timeout = self.timeout_of(name)
        limit = timeout if wait_at_most is None else min(timeout, wait_at_most)
        started = time.perf_counter()
        pool = self._pool(spec)
        environment, cold = pool.acquire()
        context = {"functionName": name, "requestId": request_id, "memoryLimitInMB": spec.memory_mb,
                   "invokedFunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{name}",
                   "deadlineMs": int(time.time() * 1000 + timeout * 1000)}
        answer, timed_out = environment.call(event, context, limit)
        outcome = Invocation(name, request_id, cold=cold, duration_ms=(time.perf_counter() - started) * 1000)
        if answer is None:
            environment.kill()  # timed out or crashed: the environment is gone, the next call starts cold
            pool.release(None)
            outcome.timed_out = timed_out
            outcome.error = (
                {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {limit:.2f} seconds"}
                if timed_out else {"errorType": "Runtime.ExitError", "errorMessage": "the process exited"})
            return outcome
        pool.release(environment)
        outcome.result, outcome.error = answer.get("result"), answer.get("error")
        return outcome

    def invoke_async(self, name: str, event: Any) -> str:
        """Event invocation: queued, retried on failure, dead-lettered after the last retry."""
        if name not in BY_NAME:
            raise KeyError(name)
        request_id = str(uuid.uuid4())
        with self._idle:
            self._pending += 1
        threading.Thread(target=self._run_async, args=(name, event, 0), daemon=True,
                         name=f"async-{name}").start()
        return request_id

    def _run_async(self, name: str, event: Any, attempt: int) -> None:
        outcome = self.invoke(name, event) if not self._closed else None
        retries = BY_NAME[name].async_retries
        if outcome is not None and not outcome.ok and attempt < retries and not self._closed:
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            timer = threading.Timer(delay, self._run_async, args=(name, event, attempt + 1))
            timer.daemon = True
            timer.start()
            return
        if outcome is not None and not outcome.ok:
            self.dead_letters.append(DeadLetter(name, event, outcome.error, attempt + 1))
            self._log_line(name, f"async invocation failed after {attempt + 1} attempts: {outcome.error}")
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no asynchronous invocation is queued, running or waiting to retry."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- lifecycle
    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _log_line(self, name: str, line: str) -> None:
        with open(self.log_path(name), "a") as log:
            log.write(f"[runtime] {line}\n")

    def _pool(self, spec: FunctionSpec) -> _FunctionPool:
        with self._lock:
            if spec.name not in self._pools:
                self._pools[spec.name] = _FunctionPool(spec, lambda: self.environment(spec),
                                                       self.log_path(spec.name), self.max_concurrency)
            return self._pools[spec.name]

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def worker_base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """What every local function sees besides its manifest variables: a clean environment like Lambda's."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT), "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", **extra}


def invoke_api(runtime: LambdaRuntime) -> Callable[..., Any]:
    """Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for boto3's lambda client."""
    from werkzeug.wrappers import Request, Response  # noqa: PLC0415

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 4 or parts[:2] != ["2015-03-31", "functions"] \
                or parts[3] != "invocations":
            response = Response(json.dumps({"message": "not found"}), status=404)
            return response(environ, start_response)
        name = parts[2].split(":")[-1] if parts[2].startswith("arn:") else parts[2]
        if name not in BY_NAME:
            response = Response(json.dumps({"Type": "User", "message": f"Function not found: {name}"}), status=404,
                                headers={"x-amzn-ErrorType": "ResourceNotFoundException"})
            return response(environ, start_response)
        try:
            event = json.loads(request.get_data() or b"{}")
        except ValueError:
            response = Response(json.dumps({"message": "Could not parse request body into json"}), status=400,
                                headers={"x-amzn-ErrorType": "InvalidRequestContentException"})
            return response(environ, start_response)
        if request.headers.get("X-Amz-Invocation-Type") == "Event":
            runtime.invoke_async(name, event)
            return Response(status=202)(environ, start_response)
        outcome = runtime.invoke(name, event)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if not outcome.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        body = json.dumps(outcome.result if outcome.ok else outcome.error)
        return Response(body, status=200, headers=headers, content_type="application/json")(environ, start_response)

    return app
