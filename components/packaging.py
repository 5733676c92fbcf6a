"""Deterministic Lambda artifacts: the code archive of `functions/` and the dependency layer.

Same input -> byte-identical zip -> same hash -> Pulumi sees no change and Lambda is not redeployed, whichever
machine built it. Entries are sorted, timestamps and permissions fixed, tests and caches left out. The layer is
built by pip for the Lambda platform (never for this machine: Amazon Linux 2023, glibc 2.34, for the stage's
architecture), zipped the same way, and cached by the fingerprint of its requirements; what pip leaves that
depends on the builder (console scripts under `bin/` whose shebang is the builder's interpreter, caches) is not
part of it.

Both carry bytecode for the runtime's Python. Lambda's `/var/task` and `/opt` are read-only, so a module without
its `.pyc` is compiled again at every cold start (about half of each handler's import time). A CPython of the
runtime's version compiles them (`compileall`, like `sam build` it needs that interpreter), serially, with hash
randomisation off and the paths Lambda sees (`/var/task`, `/opt/python`) in place of the builder's, so the bytes
do not depend on the machine; `checked-hash` pycs are used only while their source is unchanged (an edit in the
console is never shadowed) and cost nothing measurable over `unchecked-hash`.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_FILES = {"requirements.txt", ".DS_Store"}
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34). Wheels tagged for any manylinux up to 2.34 run
# there; pip needs every tag spelled out (Pillow 12+ ships only manylinux_2_28 wheels for aarch64).
LAMBDA_GLIBC = (2, 34)
MANYLINUX_TAGS = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
LAYER_EXCLUDED_TOP = {"bin"}  # console scripts; their shebang names the builder's interpreter, Lambda runs none
TASK_ROOT = "/var/task"  # where Lambda unzips the code archive
LAYER_ROOT = "/opt/python"  # where a Python layer's `python/` lands
BYTECODE_MODE = "checked-hash"  # see the module docstring


@dataclass(frozen=True)
class Artifact:
    """A built archive: where it is and its base64 SHA-256 (the form Lambda's `source_code_hash` takes)."""

    path: Path
    sha256_b64: str


def package_files(source: Path) -> list[Path]:
    """The files that go into the code archive, sorted; relative to the parent of `source` (keeps the package)."""
    chosen: list[Path] = []
    for directory, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name in EXCLUDED_FILES or name.endswith(EXCLUDED_SUFFIXES) or name.startswith("test_"):
                continue
            chosen.append((Path(directory) / name).relative_to(source.parent))
    return sorted(chosen, key=lambda p: p.as_posix())


def code_fingerprint(source: Path, python_version: str) -> str:
    """The code archive's identity: the packaged files' paths and contents and the Python they are compiled for."""
    digest = hashlib.sha256(f"{python_version}|{BYTECODE_MODE}".encode())
    for relative in package_files(source):
        digest.update(f"|{relative.as_posix()}|".encode())
        digest.update((source.parent / relative).read_bytes())
    return _short(base64.b64encode(digest.digest()).decode())


def build_code_archive(source: Path, out_dir: Path, python_version: str = "3.12") -> Artifact:
    """Zip `source` (e.g. functions/) with its bytecode for `python_version`, so the handler
    `functions.health.handler` imports as it does here; cached by the sources' fingerprint."""
    final = out_dir / f"{source.name}-{code_fingerprint(source, python_version)}.zip"
    if final.exists():
        return Artifact(final, _sha256_b64(final))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{final.stem}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    relatives = package_files(source)
    try:
        for relative in relatives:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.parent / relative, staging / relative)
        compile_bytecode(staging, TASK_ROOT, python_version, strict=True)
        tmp = out_dir / f".{final.name}.tmp"
        _write_zip(tmp, staging, with_bytecode(staging, relatives, python_version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    os.replace(tmp, final)
    return Artifact(final, _sha256_b64(final))


class BytecodeError(RuntimeError):
    """No CPython of the runtime's version here, or our own code does not compile; the message says what to do."""


def find_python(version: str) -> str | None:
    """A working CPython `version` ("3.12"): this interpreter if it is one, else `python3.12` on PATH, else pyenv's
    (as a developer's machine has it). A pyenv shim whose version is not selected answers with an error, so each
    candidate is asked for its version."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version and sys.implementation.name == "cpython":
        return sys.executable
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    candidates = [shutil.which(f"python{version}")] + sorted(
        (p for root in roots if root for p in glob.glob(f"{root}/versions/{version}*/bin/python{version}")),
        reverse=True)
    wanted = f"({', '.join(version.split('.'))})"
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-I", "-c", "import sys; print(sys.executable, sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip().endswith(wanted):
            return done.stdout.split()[0]
    return None


def how_to_get_python(version: str) -> str:
    return (f"CPython {version} (Lambda's python{version}) is needed: put python{version} on PATH, e.g. "
            f"`pyenv install {version}` or your system's python{version} package")


def bytecode_command(python: str, directory: Path, runtime_root: str) -> list[str]:
    """compileall as the builds run it: one process, files in sorted order (marshal's output depends on what was
    compiled before), no site, each file's path as Lambda will see it."""
    return [python, "-s", "-S", "-m", "compileall", "-q", "--invalidation-mode", BYTECODE_MODE,
            "-s", str(directory), "-p", runtime_root, str(directory)]


def compile_bytecode(directory: Path, runtime_root: str, python_version: str, strict: bool) -> None:
    """Write `__pycache__/*.cpython-3XY.pyc` beside every module under `directory`. `strict`: a file that does not
    compile is an error (our code); otherwise it is left without bytecode (a dependency's Python 2 example or
    template, which nothing imports)."""
    python = find_python(python_version)
    if python is None:
        raise BytecodeError(how_to_get_python(python_version))
    done = subprocess.run(bytecode_command(python, directory, runtime_root), capture_output=True, text=True,
                          env={"PYTHONHASHSEED": "0"})  # frozenset constants are marshalled in hash order
    if done.returncode not in (0, 1) or (strict and done.returncode):
        lines = [line for line in (done.stdout + done.stderr).splitlines()
                 if line.strip() and not line.startswith("*** Error compiling")]  # names the staging copy
        raise BytecodeError(f"Python {python_version} ({python}) could not compile what goes to {runtime_root}:\n"
                            + ("\n".join(lines)[-500:] or "(no output)"))


def with_bytecode(root: Path, relatives: list[Path], python_version: str) -> list[Path]:
    """`relatives` plus each module's bytecode for `python_version` where compileall wrote it, sorted."""
    tag = f"cpython-{python_version.replace('.', '')}"
    chosen = list(relatives)
    for relative in relatives:
        if relative.suffix == ".py":
            compiled = relative.parent / "__pycache__" / f"{relative.stem}.{tag}.pyc"
            if (root / compiled).exists():
                chosen.append(compiled)
    return sorted(chosen, key=lambda p: p.as_posix())


def _write_zip(path: Path, root: Path, relatives: list[Path]) -> None:
    """Entries in the given (sorted) order, fixed time and mode: the bytes depend on the files' contents only."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in relatives:
            info = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / relative).read_bytes())


def layer_fingerprint(requirements: Path, python_version: str, architecture: str) -> str:
    """The layer's identity: its pinned requirements and the platform it is built for."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"|{python_version}|{architecture}|{BYTECODE_MODE}".encode())
    return _short(base64.b64encode(digest.digest()).decode())


def platform_tags(architecture: str) -> list[str]:
    """Every manylinux tag whose wheels run on Lambda's Amazon Linux 2023 for `architecture`."""
    machine = MACHINES[architecture]
    return [f"{tag}_{machine}" for tag in MANYLINUX_TAGS]


def pip_install_command(requirements: Path, target: Path, python_version: str, architecture: str,
                        python: str = sys.executable) -> list[str]:
    """pip resolving wheels for Lambda's platform, not this machine's; binary wheels only."""
    platforms = [arg for tag in platform_tags(architecture) for arg in ("--platform", tag)]
    return [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            *platforms, "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python_version, "--target", str(target), "-r", str(requirements)]


def layer_archive_path(requirements: Path, out_dir: Path, python_version: str, architecture: str) -> Path:
    """Where the layer's zip is (or would be) built: one name whether or not it is built (mocks, real runs)."""
    return out_dir / f"layer-{architecture}-{layer_fingerprint(requirements, python_version, architecture)}.zip"


def layer_files(python_dir: Path) -> list[Path]:
    """The files of an installed `python/` directory that go into the layer, sorted, relative to its parent."""
    chosen: list[Path] = []
    for directory, dirs, files in os.walk(python_dir):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS
                         and not (here == python_dir and d in LAYER_EXCLUDED_TOP))
        chosen += [(here / name).relative_to(python_dir.parent) for name in sorted(files)
                   if not name.endswith(EXCLUDED_SUFFIXES)]
    return sorted(chosen, key=lambda p: p.as_posix())


class LayerBuildError(RuntimeError):
    """pip could not resolve the pins for Lambda's platform; the message says what to do."""


def build_layer(requirements: Path, out_dir: Path, python_version: str = "3.12",
                architecture: str = "arm64", python: str = sys.executable) -> Artifact:
    """Install the function dependencies for Lambda into `python/` and zip them deterministically (cached by
    fingerprint: a built zip is reused as it is)."""
    final = layer_archive_path(requirements, out_dir, python_version, architecture)
    if final.exists():
        return Artifact(final, _sha256_b64(final))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{final.stem}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    command = pip_install_command(requirements, staging / "python", python_version, architecture, python)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise LayerBuildError(
            f"the {architecture} layer for Python {python_version} could not be built from {requirements.name} "
            f"(platforms {', '.join(platform_tags(architecture))}): {detail}")
    _drop_outside_entries(staging / "python")
    try:
        compile_bytecode(staging / "python", LAYER_ROOT, python_version, strict=False)
        tmp = out_dir / f".{final.name}.tmp"
        _write_zip(tmp, staging, with_bytecode(staging, layer_files(staging / "python"), python_version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    os.replace(tmp, final)
    return Artifact(final, _sha256_b64(final))


def _drop_outside_entries(python_dir: Path) -> None:
    """Each wheel's RECORD also lists its console scripts (`../../bin/...`, hashed with the builder's shebang),
    which the layer leaves out: drop those lines, so RECORD describes what is there and the bytes do not depend
    on the builder's interpreter path."""
    for record in sorted(python_dir.glob("*.dist-info/RECORD")):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../")]
        if kept != lines:
            record.write_text("".join(kept))


def _sha256_b64(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def _short(b64: str) -> str:
    return b64.replace("/", "_").replace("+", "-")[:16]
