"""The Lambda code archive is deterministic and holds only what runs; the layer is built for Lambda's platform."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from components.packaging import (TASK_ROOT, BytecodeError, build_code_archive, find_python, layer_fingerprint,
                                  pip_install_command)
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
    assert not [n for n in names if "/tests/" in n or n.endswith(("test_y.py", ".cpython-311.pyc"))]
    assert "functions/requirements.txt" not in names
    assert names == sorted(names)


def test_archive_carries_python_3_12_bytecode_for_every_module_with_lambdas_paths(tmp_path: Path) -> None:
    """Lambda's /var/task is read-only: a module without its .pyc is compiled again at every cold start."""
    source = _copy_functions(tmp_path / "build here")
    archive = zipfile.ZipFile(build_code_archive(source, tmp_path / "out").path)
    names = archive.namelist()
    modules = [n for n in names if n.endswith(".py")]
    compiled = [n for n in names if n.endswith(".pyc")]
    assert compiled == sorted(f"{m.rsplit('/', 1)[0]}/__pycache__/{m.rsplit('/', 1)[1][:-3]}.cpython-312.pyc"
                              for m in modules)
    manifest = archive.read("functions/__pycache__/manifest.cpython-312.pyc")
    assert manifest[:4] == (3531).to_bytes(2, "little") + b"\r\n"  # CPython 3.12's magic number
    assert int.from_bytes(manifest[4:8], "little") == 0b11  # hash-based, checked against the source
    assert f"{TASK_ROOT}/functions/manifest.py".encode() in manifest and b"build here" not in manifest


def test_our_code_that_does_not_compile_under_3_12_stops_the_build_naming_the_file(tmp_path: Path) -> None:
    source = _copy_functions(tmp_path)
    (source / "broken.py").write_text("def handler(event, context):\n    return (\n")
    with pytest.raises(BytecodeError, match="broken.py"):
        build_code_archive(source, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())  # no archive, no staging left behind


def test_without_a_cpython_of_the_runtimes_version_the_build_says_how_to_get_one(tmp_path: Path) -> None:
    """The path a machine without python3.12 takes, asked for a version no machine has (so it runs, never skips,
    whichever interpreter runs the tests)."""
    assert find_python("3.99") is None
    with pytest.raises(BytecodeError, match=r"`pyenv install 3\.99`"):
        build_code_archive(_copy_functions(tmp_path), tmp_path / "out", "3.99")
    assert not list((tmp_path / "out").iterdir())  # no archive, no staging left behind


def test_layer_is_resolved_for_lambda_arm64_binaries_only(tmp_path: Path) -> None:
    requirements = ROOT / "functions" / "requirements.txt"
    command = pip_install_command(requirements, tmp_path, "3.12", "arm64")
    # Every manylinux up to Amazon Linux 2023's glibc 2.34: Pillow 12+ has only manylinux_2_28 aarch64 wheels.
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"]
    assert "--only-binary=:all:" in command and command[command.index("--python-version") + 1] == "3.12"
    assert layer_fingerprint(requirements, "3.12", "arm64") != layer_fingerprint(requirements, "3.12", "x86_64")
