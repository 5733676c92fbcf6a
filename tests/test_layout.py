"""The layout rules of the developers' guide, checked: `components/` is the only package that imports pulumi; the
Lambda code, the migration and local mode never import `components/` (they share pure-data specs in `functions/`);
no module of `migration/` imports another that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("functions", "migration", "local")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_only_components_imports_pulumi_and_nothing_at_runtime_imports_components() -> None:
    problems = []
    for package in RUNTIME_PACKAGES:
        for path in _modules(package):
            for name in _imports(path):
                if name.split(".")[0] in ("pulumi", "pulumi_aws", "components"):
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


def test_no_two_migration_modules_import_each_other() -> None:
    graph = {path.stem: {name.split(".")[1] for name in _imports(path) if name.startswith("migration.")}
             for path in _modules("migration")}
    cycles = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, ())})
    assert cycles == []
