"""The artifacts as Lambda runs them: CPython 3.12 in isolated mode (`-I -S`: no site-packages, no user paths, no
PYTHONPATH), with exactly what a Lambda environment has on `sys.path` - the code archive (/var/task), the layer
(/opt/python) built from the same pins for this machine's architecture, and the boto3 the runtime ships
(/var/runtime) - importing each handler of the manifest and serving it its representative event against the local
app. A `ModuleNotFoundError` here is a missing entry in functions/requirements.txt. The import and first-event
times are the cold-start figures that matter (no AWS CRT, nothing from the dev venv).
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from components.packaging import Artifact, build_code_archive, build_layer
from components.stack import PYTHON_VERSION
from functions.manifest import FUNCTIONS
from local.app import LocalApp, LocalAppOptions
from local.events import EXPECTED_ERRORS, prepared_events
from local.services import SecantusDB
from rehearsal.result import Result

HOST_ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
HOW_TO_GET_312 = ("CPython 3.12 (Lambda's python3.12) is needed: put python3.12 on PATH, e.g. `pyenv install 3.12` "
                  "or your system's python3.12 package")

PROBE = r'''
import json, sys, time
started = time.perf_counter()
task, layer, runtime, handler_path, event_path, out_path = sys.argv[1:7]
sys.path[:0] = [task, layer, runtime]
class Context:
    function_name = "rehearsal"; function_version = "$LATEST"; memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:rehearsal"
    aws_request_id = "rehearsal"; log_group_name = "/aws/lambda/rehearsal"; log_stream_name = "rehearsal"
    def get_remaining_time_in_millis(self): return 60000
report = {"python": sys.version.split()[0], "error": None}
try:
    module, _, name = handler_path.rpartition(".")
    handler = getattr(__import__(module, fromlist=[name]), name)
    report["import"] = time.perf_counter() - started
    imported = time.perf_counter()
    handler(json.load(open(event_path)), Context())
    report["first_event"] = time.perf_counter() - imported
except BaseException as error:
    report["error"] = f"{type(error).__name__}: {error}"
    report.setdefault("import", time.perf_counter() - started)
import boto3, botocore
report["boto3"] = boto3.__version__
report["outside"] = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                            and "site-packages" in m.__file__ and not m.__file__.startswith((task, layer, runtime))})[:3]
json.dump(report, open(out_path, "w"))
'''


def find_python312() -> str | None:
    """A working CPython 3.12: python3.12 on PATH, else pyenv's (as a developer's machine would have it). A pyenv
    shim whose version is not selected answers with an error, so each candidate is asked for its version."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    candidates = [shutil.which("python3.12")] + sorted(
        (p for root in roots if root for p in glob.glob(f"{root}/versions/3.12*/bin/python3.12")), reverse=True)
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-I", "-c", "import sys; print(sys.executable, sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip().endswith("(3, 12)"):
            return done.stdout.split()[0]
    return None


def check(project_root: Path, build_dir: Path) -> Result:
    result = Result("python3.12: every handler imported and served its event from the artifacts alone (-I -S)")
    python = find_python312()
    if python is None:
        result.problems.append(HOW_TO_GET_312)
        return result
    architecture = HOST_ARCHITECTURES.get(platform.machine())
    if architecture is None:
        result.problems.append(f"no Lambda architecture matches this machine ({platform.machine()})")
        return result
    code = build_code_archive(project_root / "functions", build_dir)
    layer = build_layer(project_root / "functions" / "requirements.txt", build_dir, PYTHON_VERSION, architecture)
    runtime = build_dir / "lambda-runtime-sdk"
    problem = _install_runtime_sdk(python, project_root / "rehearsal" / "lambda_runtime_requirements.txt", runtime)
    if problem:
        result.problems.append(problem)
        return result
    with tempfile.TemporaryDirectory(prefix="mumble-lambda-") as scratch:
        task, opt = Path(scratch) / "task", Path(scratch) / "opt"
        _unzip(code, task)
        _unzip(layer, opt)
        probe = Path(scratch) / "probe.py"
        probe.write_text(PROBE)
        with SecantusDB() as legacy, LocalApp(LocalAppOptions(
                stage="rehearsal", legacy_mongo_uri=legacy.database_uri("mumble"))) as app:
            _, events = prepared_events(app, "rehearsal@example.com")
            for spec in FUNCTIONS:
                event_file = Path(scratch) / f"{spec.name}.json"
                event_file.write_text(json.dumps(events[spec.name]))
                out = Path(scratch) / f"{spec.name}.out.json"
                done = subprocess.run([python, "-I", "-S", str(probe), str(task), str(opt / "python"), str(runtime),
                                       spec.handler, str(event_file), str(out)],
                                      env=app.function_environment(spec), capture_output=True, text=True, timeout=120)
                if not out.exists():
                    result.problems.append(f"{spec.name}: the interpreter failed: {done.stderr.strip()[-300:]}")
                    continue
                report = json.loads(out.read_text())
                expected = EXPECTED_ERRORS.get(spec.name)
                if expected and (report["error"] or "").startswith(f"{expected}:"):
                    result.figures.append(f"{spec.name:22} import {report['import']:.3f} s, first event refused "
                                          f"as it should be ({expected})")
                elif report["error"]:
                    result.problems.append(f"{spec.name} ({spec.handler}) under Python {report['python']}: "
                                           f"{report['error']}")
                elif report["outside"]:
                    result.problems.append(f"{spec.name}: loaded modules from outside the artifacts: "
                                           f"{report['outside']}")
                else:
                    result.figures.append(f"{spec.name:22} import {report['import']:.3f} s, first event "
                                          f"{report['first_event']:.3f} s")
    result.figures.insert(0, f"{python} ({architecture} layer {layer.path.stat().st_size / 2**20:.1f} MB, "
                             f"runtime SDK from {Path('rehearsal/lambda_runtime_requirements.txt')})")
    return result


def _install_runtime_sdk(python: str, requirements: Path, target: Path) -> str | None:
    stamp = target / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime:
        return None
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                           "--target", str(target), "-r", str(requirements)], capture_output=True, text=True)
    if done.returncode != 0:
        return f"could not install the runtime's SDK for 3.12: {done.stderr.strip()[-300:]}"
    shutil.rmtree(target / "bin", ignore_errors=True)
    stamp.touch()
    return None


def _unzip(artifact: Artifact, target: Path) -> None:
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(target)
