"""Deterministic Lambda artifacts: the code archive of `functions/` and the arm64 dependency layer.

Same input -> byte-identical zip -> same hash -> Pulumi sees no change and Lambda is not redeployed. Entries are
sorted, timestamps and permissions fixed, tests and caches left out. The layer is built by pip for the Lambda
platform (never for this machine) and cached by the hash of its requirements file.
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
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in package_files(source):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (source.parent / relative).read_bytes())
    digest = _sha256_b64(tmp)
    final = out_dir / f"{source.name}-{_short(digest)}.zip"
    os.replace(tmp, final)
    return Artifact(final, digest)


def layer_fingerprint(requirements: Path, python_version: str, architecture: str) -> str:
    """The layer's identity: its pinned requirements and the platform it is built for."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"|{python_version}|{architecture}".encode())
    return _short(base64.b64encode(digest.digest()).decode())


def platform_tag(architecture: str) -> str:
    return {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}[architecture]


def pip_install_command(requirements: Path, target: Path, python_version: str, architecture: str) -> list[str]:
    """pip resolving wheels for Lambda's platform, not this machine's; binary wheels only."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--platform", platform_tag(architecture), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python_version, "--target", str(target), "-r", str(requirements)]


def build_layer(requirements: Path, out_dir: Path, python_version: str = "3.12",
                architecture: str = "arm64") -> Path:
    """Install the function dependencies into `python/` of a layer directory (cached by fingerprint)."""
    layer_dir = out_dir / f"layer-{architecture}-{layer_fingerprint(requirements, python_version, architecture)}"
    if (layer_dir / ".complete").exists():
        return layer_dir
    shutil.rmtree(layer_dir, ignore_errors=True)
    target = layer_dir / "python"
    subprocess.run(pip_install_command(requirements, target, python_version, architecture), check=True)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    (layer_dir / ".complete").touch()
    return layer_dir


def _sha256_b64(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def _short(b64: str) -> str:
    return b64.replace("/", "_").replace("+", "-")[:16]
