"""The Lambda code archive is deterministic and holds only what runs; the layer is built for Lambda's platform."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from components.packaging import build_code_archive, layer_fingerprint, pip_install_command
from tests.conftest import ROOT


def _copy_functions(target: Path) -> Path:
    source = target / "functions"
    shutil.copytree(ROOT / "functions", source)
    return source


def test_same_code_gives_the_same_archive_and_hash_whatever_the_timestamps(tmp_path: Path) -> None:
    source = _copy_functions(tmp_path / "a")
    first = build_code_archive(source, tmp_path / "out1")
    for path in source.rglob("*.py"):
        os.utime(path, (1_000_000, 1_000_000))
    second = build_code_archive(source, tmp_path / "out2")
    assert first.sha256_b64 == second.sha256_b64
    assert first.path.read_bytes() == second.path.read_bytes()
    (source / "manifest.py").write_text((source / "manifest.py").read_text() + "\n# changed\n")
    assert build_code_archive(source, tmp_path / "out3").sha256_b64 != first.sha256_b64


def test_archive_keeps_the_package_path_and_leaves_out_tests_caches_and_requirements(tmp_path: Path) -> None:
    source = _copy_functions(tmp_path)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"x")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("")
    (source / "test_y.py").write_text("")
    names = zipfile.ZipFile(build_code_archive(source, tmp_path / "out").path).namelist()
    assert "functions/manifest.py" in names and "functions/shared/tables.py" in names
    assert not [n for n in names if "__pycache__" in n or "/tests/" in n or n.endswith((".pyc", "test_y.py"))]
    assert "functions/requirements.txt" not in names
    assert names == sorted(names)


def test_layer_is_resolved_for_lambda_arm64_binaries_only(tmp_path: Path) -> None:
    requirements = ROOT / "functions" / "requirements.txt"
    command = pip_install_command(requirements, tmp_path, "3.12", "arm64")
    # Every manylinux up to Amazon Linux 2023's glibc 2.34: Pillow 12+ has only manylinux_2_28 aarch64 wheels.
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"]
    assert "--only-binary=:all:" in command and command[command.index("--python-version") + 1] == "3.12"
    assert layer_fingerprint(requirements, "3.12", "arm64") != layer_fingerprint(requirements, "3.12", "x86_64")
