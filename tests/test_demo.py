"""`make demo` runs the main job on embedded defaults and prints what it built."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_demo_seeds_migrates_verifies_and_syncs_later_changes(tmp_path) -> None:
    run = subprocess.run([sys.executable, "-m", "local.demo", "--users", "30", "--images", "200", "--report-dir",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "users: 30   images: 200" in out
    assert "drift in images:" in out and "expired_provider_url" in out
    assert "table  mumble-local-users" in out and "indexes EmailIndex" in out
    assert "table  mumble-local-images" in out and "indexes UserIndex" in out
    assert "bucket mumble-local-media" in out
    assert "$ python -m migration.run --dry-run" in out and "would write" in out
    assert "verify images: matched" in out and "missing 0, extra 0, different 0, media mismatched 0" in out
    assert "$ python -m migration.sync --once" in out and "displayName 'Renamed On Legacy'" in out
    assert "images: applied 0 (sort key moved 0), deleted 1," in out and "images items for" in out
    assert out.split("images items for", 1)[1].split("\n", 1)[0].endswith(": 0")
    assert {p.name for p in tmp_path.iterdir()} >= {"dry-run.json", "run.json", "dead-letters.jsonl"}
    assert out.rstrip().endswith("services stopped.")


def test_the_demo_rejects_a_bad_flag() -> None:
    run = subprocess.run([sys.executable, "-m", "local.demo", "--images", "-5"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "images must be 0 or more (got -5)" in run.stderr
