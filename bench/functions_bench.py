"""`make bench` (functions part): cold start per handler and latency per route, measured side by side in one run.

- Cold start: for each function, a fresh interpreter (with exactly the function's environment, against the local
  app) imports the handler module and serves one representative event; wall time of the whole process, median of
  `--runs`, against the floor of a fresh interpreter doing `import boto3` alone (interleaved with the probes; one
  median for the whole run). Target (issue 5): every API handler <= 1.3x the floor.
- Cold start from the artifacts (`--artifact-runs`): CPython 3.12 as Lambda runs it (`-I -S -B`, read-only disk)
  from the code archive and the layer as `pulumi up` builds them, with their 3.12 bytecode and with every `.pyc`
  removed, interleaved; the ratio is what shipping bytecode saves at every cold start.
- Latency: a few hundred requests per route through the local HTTP gateway at small concurrency, warm; p50/p95
  end to end and what each handler adds over `GET /health` (the gateway, the JWT check and the runtime's hop).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from components.stack import BUILD_DIR
from functions.manifest import BY_NAME, FUNCTIONS
from local.app import LocalApp, LocalAppOptions
from local.events import prepared_events
from local.lambda_runtime import REPO_ROOT
from local.services import SecantusDB
from rehearsal.lambda_python import lambda_files

PROBE = """
import json, sys, time
started = time.perf_counter()
from local.lambda_worker import LambdaContext
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(__import__(module, fromlist=[name]), name)
imported = time.perf_counter()
event = json.loads(sys.argv[2])
context = LambdaContext({"functionName": "bench", "invokedFunctionArn": "arn:aws:lambda:us-east-1:0:function:bench",
                         "memoryLimitInMB": 256, "requestId": "bench", "deadlineMs": int(time.time() * 1000) + 60000})
try:
    handler(event, context)
except Exception as error:
    print(type(error).__name__, error, file=sys.stderr)
print(json.dumps({"import": imported - started, "first_event": time.perf_counter() - imported}),
      file=open(sys.argv[3], "w"))
"""


def timed_process(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def timed_probe(handler: str, event: Any, env: dict[str, str]) -> tuple[float, float, float]:
    """Whole-process wall time, plus the handler's import and first event as measured inside the process."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as split:
        total = timed_process([sys.executable, "-c", PROBE, handler, json.dumps(event), split.name], env)
        parts = json.load(split)
    return total, parts["import"], parts["first_event"]


def cold_starts(app: LocalApp, events: dict[str, Any], runs: int) -> None:
    """Probes and floor runs interleaved (a floor run before every probe), so both see the same machine; one floor,
    the median of all its runs, is the denominator of every ratio."""
    health_env = app.function_environment(BY_NAME["health"])
    print(f"\nCold start: fresh interpreter importing the handler and serving one event (median of {runs})")
    floors: list[float] = []
    probes: dict[str, list[tuple[float, float, float]]] = {spec.name: [] for spec in FUNCTIONS}
    for _ in range(runs):
        for spec in FUNCTIONS:
            floors.append(timed_process([sys.executable, "-c", "import boto3"], health_env))
            probes[spec.name].append(timed_probe(spec.handler, events[spec.name], app.function_environment(spec)))
    floor = statistics.median(floors)
    print(f"  floor (`import boto3` alone): median {floor:.3f} s of {len(floors)} runs "
          f"(min {min(floors):.3f}, max {max(floors):.3f})")
    print(f"  {'function':22} {'cold s':>7} {'import s':>9} {'1st event s':>12} {'ratio':>6}  target")
    for spec in FUNCTIONS:
        cold, imported, first = (statistics.median(column) for column in zip(*probes[spec.name]))
        api = bool(spec.http_routes)
        verdict = ("ok" if cold / floor <= 1.3 else "MISSED") if api else "-"
        print(f"  {spec.name:22} {cold:7.3f} {imported:9.3f} {first:12.3f} {cold / floor:6.2f}  "
              f"{'<=1.30 ' + verdict if api else ''}")
    print("  (import s: the handler module with everything it loads, boto3 included; 1st event s: serving one event,"
          " which creates the handler's boto3 clients)")


def artifact_cold_starts(app: LocalApp, events: dict[str, Any], runs: int, build_dir: Path) -> None:
    """The same handler and event from the shipped artifacts and from a copy without bytecode, one after the other
    in every round, so both see the same machine."""
    files = lambda_files(REPO_ROOT, build_dir)
    if isinstance(files, str):
        print(f"\nCold start from the artifacts: skipped, {files}")
        return
    print(f"\nCold start from the artifacts under {files.python} -I -S -B ({files.architecture} layer), "
          f"median of {runs}: shipped bytecode vs none")
    with tempfile.TemporaryDirectory(prefix="mumble-bytecode-") as scratch:
        shipped = files.unpack(Path(scratch) / "shipped")
        stripped = files.unpack(Path(scratch) / "stripped")
        for root in stripped:
            for cache in list(root.rglob("__pycache__")):
                shutil.rmtree(cache)
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(runs):
            for spec in FUNCTIONS:
                for variant, (task, layer_python) in (("shipped", shipped), ("none", stripped)):
                    report = files.probe(task, layer_python, spec.handler, events[spec.name],
                                         app.function_environment(spec), Path(scratch))
                    if "failed" in report:
                        raise SystemExit(f"{spec.name} ({variant}): the interpreter failed: {report['failed']}")
                    samples.setdefault((spec.name, variant), []).append(
                        (report["import"], report.get("first_event") or 0.0))
    print(f"  {'function':22} {'import s':>9} {'without':>8} {'ratio':>6} {'1st event s':>12} {'without':>8}")
    for spec in FUNCTIONS:
        (imported, first), (bare_import, bare_first) = (
            tuple(statistics.median(column) for column in zip(*samples[(spec.name, variant)]))
            for variant in ("shipped", "none"))
        print(f"  {spec.name:22} {imported:9.3f} {bare_import:8.3f} {imported / bare_import:6.2f} {first:12.3f} "
              f"{bare_first:8.3f}")
    print("  (ratio: import with the shipped .pyc files over import compiling every module, as Lambda's read-only "
          "/var/task and /opt would make it do at every cold start)")


def latency(app: LocalApp, tokens: dict[str, str], requests_per_route: int, concurrency: int) -> None:
    headers = {"Authorization": f"Bearer {tokens['IdToken']}"}
    job = requests.post(f"{app.api_url}/generate", json={"text": "bench"}, headers=headers, timeout=30).json()
    cases = [("GET /health", "GET", "/health", None), ("GET /users/me", "GET", "/users/me", None),
             ("GET /images", "GET", "/images?limit=20", None), ("GET /weather", "GET", "/weather?lat=1&lon=2", None),
             ("POST /audio/upload", "POST", "/audio/upload", {"contentType": "audio/webm", "size": 1000}),
             ("GET /jobs/{jobId}", "GET", f"/jobs/{job['jobId']}", None)]
    print(f"\nLatency through the local gateway: {requests_per_route} requests per route, concurrency {concurrency}")
    print(f"  {'route':22} {'p50 ms':>7} {'p95 ms':>7} {'handler p50 ms':>15}")
    baseline = None
    for label, method, path, body in cases:
        session = requests.Session()

        def one(_: int) -> float:
            started = time.perf_counter()
            answer = session.request(method, app.api_url + path, json=body, headers=headers, timeout=30)
            assert answer.status_code < 300, (label, answer.status_code, answer.text)
            return (time.perf_counter() - started) * 1000

        for _ in range(concurrency * 2):
            one(0)  # warm every execution environment
        with ThreadPoolExecutor(concurrency) as pool:
            samples = sorted(pool.map(one, range(requests_per_route)))
        p50, p95 = samples[len(samples) // 2], samples[int(len(samples) * 0.95) - 1]
        baseline = p50 if baseline is None else baseline
        print(f"  {label:22} {p50:7.1f} {p95:7.1f} {p50 - baseline:15.1f}")
    print("  (handler p50 = the route's p50 minus GET /health's: what the handler's own work adds)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.functions_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts per function (median)")
    parser.add_argument("--requests", type=int, default=300, help="requests per route")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--artifact-runs", type=int, default=3,
                        help="cold starts per function and variant from the built artifacts under Python 3.12 "
                             "(median; 0 skips)")
    args = parser.parse_args(argv)
    if min(args.runs, args.requests, args.concurrency) < 1 or args.artifact_runs < 0:
        parser.error("--runs, --requests and --concurrency must be at least 1, --artifact-runs at least 0")
    with SecantusDB() as legacy, LocalApp(LocalAppOptions(stage="bench",
                                                          legacy_mongo_uri=legacy.database_uri("mumble"))) as app:
        tokens, events = prepared_events(app, "bench@example.com")
        cold_starts(app, events, args.runs)
        if args.artifact_runs:
            artifact_cold_starts(app, events, args.artifact_runs, BUILD_DIR)
        latency(app, tokens, args.requests, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
