"""`python -m local.site_build` (what `make site` runs): the web client built into site/dist when its sources
changed, and stamped with their digest (functions/site_spec.py) so `pulumi up` and the rehearsal can refuse a
missing or stale build instead of uploading it.

`npm ci` runs only when site/package-lock.json differs from what node_modules was installed from; the build is
`tsc --noEmit` (the type check) then `vite build`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from functions.site_spec import BUILD_DIR, BUILD_STAMP, build_problem, source_digest

SITE_ROOT = Path(__file__).resolve().parent.parent / "site"


class SiteBuildError(RuntimeError):
    pass


def _npm(site_root: Path, *args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SiteBuildError("npm is not on PATH: the web client needs Node.js 20+ and npm to build")
    done = subprocess.run([npm, *args], cwd=site_root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SiteBuildError(f"`npm {' '.join(args)}` in {site_root} failed:\n{done.stdout[-4000:]}"
                             f"{done.stderr[-4000:]}")


def ensure_built(site_root: Path = SITE_ROOT, force: bool = False) -> Path:
    """site/dist, built now if it is missing or stale. Returns the build directory."""
    if force or build_problem(site_root):
        installed = site_root / "node_modules" / ".package-lock.json"
        lock = site_root / "package-lock.json"
        if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
            _npm(site_root, "ci", "--no-audit", "--no-fund")
        _npm(site_root, "run", "build")
        (site_root / BUILD_DIR / BUILD_STAMP).write_text(source_digest(site_root) + "\n")
    return site_root / BUILD_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.site_build", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even when site/dist matches its sources")
    args = parser.parse_args(argv)
    try:
        dist = ensure_built(force=args.force)
    except SiteBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"web client: {dist} (sources {source_digest(SITE_ROOT)[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
