"""The artifacts as Lambda runs them: CPython 3.12 in isolated mode (`-I -S`: no site-packages, no user paths, no
PYTHONPATH) writing no bytecode (`-B`: Lambda's `/var/task` and `/opt` are read-only), with exactly what a Lambda
environment has on `sys.path` - the code archive (/var/task), the layer (/opt/python) built from the same pins for this
machine's architecture, and the boto3 the runtime ships (/var/runtime) - importing each handler of the manifest and
serving it its representative event against the local app. A `ModuleNotFoundError` here is a missing entry in
functions/requirements.txt. The import and first-event times are the cold-start figures that matter (no AWS CRT, nothing
from the dev venv); a module of ours or of the layer imported without its shipped `.pyc` is a problem, since Lambda
would compile it at every cold start.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from components.packaging import Artifact, build_code_archive, build_layer, find_python, how_to_get_python
from components.stack import PYTHON_VERSION
from functions.manifest import FUNCTIONS
from local.app import LocalApp, LocalAppOptions
from local.events import EXPECTED_ERRORS, prepared_events
from local.services import SecantusDB
from rehearsal.result import Result

HOST_ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

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
import boto3, botocore, os
report["boto3"] = boto3.__version__
report["uncompiled"] = sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                              and m.__file__.startswith((task, layer)) and m.__file__.endswith(".py")
                              and not os.path.exists(getattr(m, "__cached__", None) or ""))
report["outside"] = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                            and "site-packages" in m.__file__ and not m.__file__.startswith((task, layer, runtime))})[:3]
json.dump(report, open(out_path, "w"))
'''


@dataclass(frozen=True)
class LambdaFiles:
    """What a Lambda environment of this machine's architecture runs: the interpreter, the two artifacts as the
    program builds them, and the runtime's own SDK."""

    python: str
    architecture: str
    code: Artifact
    layer: Artifact
    runtime: Path

    def unpack(self, target: Path) -> tuple[Path, Path]:
        """The code archive and the layer unzipped under `target`: (task, layer's python/) as on sys.path."""
        _unzip(self.code, target / "task")
        _unzip(self.layer, target / "opt")
        return target / "task", target / "opt" / "python"

    def probe(self, task: Path, layer_python: Path, handler: str, event: object, env: dict[str, str],
              scratch: Path) -> dict:
        """One cold start: a fresh `-I -S -B` interpreter imports `handler` and serves it `event`. The report has
        `import`, `first_event`, `error`, `outside`, `uncompiled`; or `failed` when the interpreter died."""
        event_file, out = scratch / "event.json", scratch / "out.json"
        event_file.write_text(json.dumps(event))
        out.unlink(missing_ok=True)
        done = subprocess.run([self.python, "-I", "-S", "-B", "-c", PROBE, str(task), str(layer_python),
                               str(self.runtime), handler, str(event_file), str(out)],
                              env=env, capture_output=True, text=True, timeout=120)
        return json.loads(out.read_text()) if out.exists() else {"failed": done.stderr.strip()[-300:]}


def lambda_files(project_root: Path, build_dir: Path) -> LambdaFiles | str:
    """The files built (or reused from `build_dir`), or a line saying why they cannot be."""
    python = find_python(PYTHON_VERSION)
    if python is None:
        return how_to_get_python(PYTHON_VERSION)
    architecture = HOST_ARCHITECTURES.get(platform.machine())
    if architecture is None:
        return f"no Lambda architecture matches this machine ({platform.machine()})"
    code = build_code_archive(project_root / "functions", build_dir, PYTHON_VERSION)
    layer = build_layer(project_root / "functions" / "requirements.txt", build_dir, PYTHON_VERSION, architecture)
    runtime = build_dir / "lambda-runtime-sdk"
    problem = _install_runtime_sdk(python, project_root / "rehearsal" / "lambda_runtime_requirements.txt", runtime)
    return problem or LambdaFiles(python, architecture, code, layer, runtime)


def check(project_root: Path, build_dir: Path) -> Result:
    result = Result("python3.12: every handler imported and served its event from the artifacts alone (-I -S)")
    files = lambda_files(project_root, build_dir)
    if isinstance(files, str):
        result.problems.append(files)
        return result
    with tempfile.TemporaryDirectory(prefix="mumble-lambda-") as scratch:
        task, layer_python = files.unpack(Path(scratch))
        with SecantusDB() as legacy, LocalApp(LocalAppOptions(
                stage="rehearsal", legacy_mongo_uri=legacy.database_uri("mumble"))) as app:
            _, events = prepared_events(app, "rehearsal@example.com")
            for spec in FUNCTIONS:
                report = files.probe(task, layer_python, spec.handler, events[spec.name],
                                     app.function_environment(spec), Path(scratch))
                expected = EXPECTED_ERRORS.get(spec.name)
                if "failed" in report:
                    result.problems.append(f"{spec.name}: the interpreter failed: {report['failed']}")
                elif expected and (report["error"] or "").startswith(f"{expected}:"):
                    result.figures.append(f"{spec.name:22} import {report['import']:.3f} s, first event refused "
                                          f"as it should be ({expected})")
                elif report["error"]:
                    result.problems.append(f"{spec.name} ({spec.handler}) under Python {report['python']}: "
                                           f"{report['error']}")
                elif report["outside"]:
                    result.problems.append(f"{spec.name}: loaded modules from outside the artifacts: "
                                           f"{report['outside']}")
                elif report["uncompiled"]:
                    result.problems.append(f"{spec.name}: {len(report['uncompiled'])} modules have no bytecode in "
                                           f"the artifacts, e.g. {report['uncompiled'][:3]}")
                else:
                    result.figures.append(f"{spec.name:22} import {report['import']:.3f} s, first event "
                                          f"{report['first_event']:.3f} s")
    result.figures.insert(0, f"{files.python} ({files.architecture} layer "
                             f"{files.layer.path.stat().st_size / 2**20:.1f} MB, runtime SDK from "
                             f"{Path('rehearsal/lambda_runtime_requirements.txt')})")
    return result


def _install_runtime_sdk(python: str, requirements: Path, target: Path) -> str | None:
    """The runtime's boto3 as pip leaves it, bytecode included: the runtime image installs its copy the same way,
    and the probes run with -B, so an uncompiled copy here would add its compilation to every figure (about 0.3 s
    measured), a cost no Lambda cold start pays for the runtime's own SDK."""
    stamp = target / ".installed-compiled"
    if stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime:
        return None
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(target), "-r", str(requirements)], capture_output=True, text=True)
    if done.returncode != 0:
        return f"could not install the runtime's SDK for 3.12: {done.stderr.strip()[-300:]}"
    shutil.rmtree(target / "bin", ignore_errors=True)
    stamp.touch()
    return None


def _unzip(artifact: Artifact, target: Path) -> None:
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(target)
