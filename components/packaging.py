"""Deterministic Lambda artifacts: the code archive of `functions/` and the dependency layer.

Same input -> byte-identical zip -> same hash -> Pulumi sees no change and Lambda is not redeployed, whichever
machine built it. Entries are sorted, timestamps and permissions fixed, tests and caches left out. The layer is
built by pip for the Lambda platform (never for this machine: Amazon Linux 2023, glibc 2.34, for the stage's
architecture), zipped the same way, and cached by the fingerprint of its requirements; what pip leaves that
depends on the builder (console scripts under `bin/` whose shebang is the builder's interpreter, caches) is not
part of it.
"""

from __future__ import annotations

import base64
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


def build_code_archive(source: Path, out_dir: Path) -> Artifact:
    """Zip `source` (e.g. functions/) so the handler `functions.health.handler` imports as it does here."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{source.name}.zip.tmp"
    _write_zip(tmp, source.parent, package_files(source))
    digest = _sha256_b64(tmp)
    final = out_dir / f"{source.name}-{_short(digest)}.zip"
    os.replace(tmp, final)
    return Artifact(final, digest)


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
    digest.update(f"|{python_version}|{architecture}".encode())
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
    tmp = out_dir / f".{final.name}.tmp"
    _write_zip(tmp, staging, layer_files(staging / "python"))
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
