"""What the benchmarks share: a command run in a child process that reports its own time and peak RSS, and a
pool of threads draining one list of work (the raw floors)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
# The child reports its own peak RSS from VmHWM, which Linux resets at exec; getrusage's ru_maxrss is carried
# across exec and would include the (large) benchmark parent the child was forked from.
CHILD = """
import importlib, json, sys, time
main = importlib.import_module(sys.argv[1]).main
started = time.monotonic()
code = main(sys.argv[2:])
seconds = time.monotonic() - started
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"code": code, "seconds": seconds, "max_rss_mb": peak / 1024}))
"""


def timed_child(module: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """`module.main(args)` in a child process: its exit code, wall seconds and peak RSS (MB)."""
    child = subprocess.run([sys.executable, "-c", CHILD, module, *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False)
    lines = child.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{module} printed nothing: {child.stderr[-2000:]}")
    return json.loads(lines[-1])


def drain(work: list[Any], handle: Callable[[Any], None], threads: int) -> float:
    """Seconds for `threads` threads to `handle` every entry of `work` (emptied on the way)."""
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not work:
                    return
                entry = work.pop()
            handle(entry)

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.monotonic() - started
