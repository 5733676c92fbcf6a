"""Real local stand-ins for the legacy database and AWS, run as child processes on free loopback ports.

- `SecantusDB`: a MongoDB wire-protocol server (the legacy database); pymongo talks to it unchanged.
- `MotoServer`: moto in server mode, a real HTTP endpoint that boto3 reaches through `AWS_ENDPOINT_URL`.

Each is a context manager: `start()` waits until the server answers (or fails with its log tail), `stop()` ends it
and its children. Teardown also happens on Ctrl-C, on a failing test, at interpreter exit, and (Linux) when the
parent process is killed outright, so no orphan keeps a port or a data directory.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0


class ServiceError(RuntimeError):
    """A local service could not start or answer; the message says which and why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_executable(name: str) -> str:
    """A console script from this interpreter's environment first (the project venv), then from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ServiceError(f"{name} not found; run `make setup` to install the pinned dependencies")
    return found


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to this child if the parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalService:
    """A server process on a free loopback port: subclasses say how to run it and how to tell it is ready."""

    name = "service"
    cwd: Path | None = None  # the server's working directory (None: this process's)

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self._requested_port = port
        self.port = 0
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    # -- what subclasses provide
    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> "LocalService":
        if self.running:
            return self
        attempts = 1 if self._requested_port else 3  # a free port can be taken between probe and bind: retry
        for attempt in range(attempts):
            self.port = self._requested_port or free_port()
            self._spawn()
            try:
                self._wait_ready(timeout)
                atexit.register(self.stop)
                return self
            except ServiceError:
                self.stop()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_SECONDS)

    def log_tail(self, lines: int = 20) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> "LocalService":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals
    def _spawn(self) -> None:
        log_dir = self._log_dir or Path(tempfile.gettempdir())
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"mumble-{self.name}-{self.port}.log"
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command(self.port),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches the server's children too
                preexec_fn=_die_with_parent,
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self._process.returncode} while starting on port {self.port}:\n"
                    f"{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise ServiceError(f"{self.name} did not answer on port {self.port} within {timeout:.0f}s:\n{self.log_tail()}")

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            os.killpg(process.pid, sig)  # the child leads its own session: this reaches its children too
        except ProcessLookupError:
            pass


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class SecantusDB(LocalService):
    """SecantusDB (MongoDB wire protocol on WiredTiger) as the legacy database.

    `storage_path=None` keeps data in memory; a directory keeps it across restarts (crash and resume tests).
    It advertises itself as a one-node replica set, so change streams work as on a production MongoDB.
    """

    name = "secantusdb"

    def __init__(
        self,
        port: int | None = None,
        storage_path: Path | None = None,
        test_commands: bool = True,
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(port, log_dir)
        self.storage_path = storage_path
        self.test_commands = test_commands

    @property
    def uri(self) -> str:
        return self.database_uri("")

    def database_uri(self, database: str) -> str:
        """The URI naming a default database (what the reverse sync's `legacyMongoUri` secret holds)."""
        return f"mongodb://127.0.0.1:{self.port}/{database}?directConnection=true"

    def command(self, port: int) -> list[str]:
        argv = [
            find_executable("secantusd-py"),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--storage-path", str(self.storage_path) if self.storage_path else ":memory:",
            "--log-level", "WARNING",
        ]
        if self.test_commands:
            argv.append("--enable-test-commands")  # configureFailPoint, for fault-injection tests
        return argv

    def is_ready(self) -> bool:
        if not _port_open(self.port):
            return False
        import pymongo  # imported here: the launcher itself does not need a driver

        client: pymongo.MongoClient = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500)
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()


class MotoServer(LocalService):
    """moto in server mode: the AWS endpoint for boto3 (DynamoDB, S3, SSM, Cognito, ...) over real HTTP, with
    DynamoDB transactions made atomic and isolated as the real service's (local/moto_server.py)."""

    name = "moto"
    cwd = Path(__file__).resolve().parent.parent  # where `local.moto_server` imports from

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        return [sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)]

    def is_ready(self) -> bool:
        return _http_ok(f"{self.endpoint_url}/moto-api/")

    def reset(self) -> None:
        """Forget every resource (tables, buckets, ...): a clean account, in milliseconds."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise ServiceError(f"moto reset answered HTTP {response.status}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False

