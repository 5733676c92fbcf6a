"""Every command-line flag of every command, and every route of the manifest, is in the README (as sqlite-utils
fails its suite on an undocumented flag): what a user can type is what the README tells them."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from functions.manifest import http_routes

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
COMMANDS = [("migration.run", []), ("migration.verify", []), ("migration.sync", []), ("migration.cutover", []),
            ("migration.media_back", []), ("local.demo", []), ("local.site_build", []), ("local.sample_data", []),
            ("local.__main__", ["up"]), ("components.cost", []), ("components.plan", []), ("rehearsal.__main__", []),
            ("bench.migration_bench", []), ("bench.functions_bench", []), ("bench.sync_bench", []),
            ("migration.report", ["r.json"])]


def _flags(module_name: str, before: list[str], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    seen: set[str] = set()
    original = argparse._ActionsContainer.add_argument

    def recording(self: argparse._ActionsContainer, *names: str, **kwargs: object) -> argparse.Action:
        seen.update(name for name in names if name.startswith("--") and name != "--help")
        return original(self, *names, **kwargs)

    monkeypatch.setattr(argparse._ActionsContainer, "add_argument", recording)
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit):
        module.main([*before, "--help"])
    return seen


@pytest.mark.parametrize("module_name, before", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_flag_is_in_the_readme(module_name: str, before: list[str], monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    flags = _flags(module_name, before, monkeypatch)
    capsys.readouterr()
    assert flags, module_name
    assert sorted(flag for flag in flags if flag not in README) == []


def test_every_route_is_in_the_readme() -> None:
    missing = [route.route_key for route, _ in http_routes()
               if f"`{route.method} {route.path.split('?')[0]}" not in README
               and f"{route.method} {route.path}" not in README]
    assert missing == []
