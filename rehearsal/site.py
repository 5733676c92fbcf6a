"""The web client as the stage would serve it: every file of the build (site/dist, fresh for its sources) is in the
plan with its content type and cache rule, index.html names only assets that are uploaded and runs no inline
script, the hashed assets are immutable and the pages revalidated, `config.json` is there (no-cache) with every key
the client reads, and the CSP allows no inline code.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from components.edge import site_files
from components.offline import OfflinePlan
from functions.site_spec import (BUILD_DIR, CONFIG_CACHE_CONTROL, CONFIG_FILE, CONFIG_KEYS, HASHED_NAME,
                                 build_problem, cache_control_for)
from rehearsal.result import Result

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
REFERENCE = re.compile(r'(?:src|href)="/([^"]+)"')
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def check(plan: OfflinePlan, site_root: Path) -> Result:
    result = Result("site: the built web client, its cache rules, config.json and CSP")
    problem = build_problem(site_root)
    if problem:
        result.problems.append(f"{problem} (`make site` builds it)")
        return result
    dist = site_root / BUILD_DIR
    built = {key for key, _ in site_files(dist)}
    objects = {r.inputs.get("key"): r.inputs for r in plan.of_type(OBJECT)
               if r.name.startswith("edge-file-")}
    missing = sorted(built - set(objects))
    if missing:
        result.problems.append(f"built files not uploaded: {', '.join(missing)}")
    for key, inputs in sorted(objects.items()):
        if key == CONFIG_FILE:
            continue
        wanted = cache_control_for(key)
        if inputs.get("cacheControl") != wanted:
            result.problems.append(f"{key}: Cache-Control {inputs.get('cacheControl')!r}, expected {wanted!r}")
        if key.startswith("assets/") and not HASHED_NAME.search(key):
            result.problems.append(f"{key}: an asset without a hex content hash would be cached under a reused name")
    for page in sorted(dist.rglob("*.html")):
        text = page.read_text()
        if INLINE_SCRIPT.search(text):
            result.problems.append(f"{page.relative_to(dist)}: an inline <script> (the CSP refuses it)")
        for reference in REFERENCE.findall(text):
            if reference not in objects:
                result.problems.append(f"{page.relative_to(dist)} names /{reference}, which is not uploaded")
    config = objects.get(CONFIG_FILE)
    if config is None:
        result.problems.append(f"no {CONFIG_FILE} in the site bucket")
    else:
        if config.get("cacheControl") != CONFIG_CACHE_CONTROL:
            result.problems.append(f"{CONFIG_FILE}: Cache-Control {config.get('cacheControl')!r}")
        content = config.get("content")
        if isinstance(content, str):
            absent = [key for key in CONFIG_KEYS if not json.loads(content).get(key)]
            if absent:
                result.problems.append(f"{CONFIG_FILE} lacks {', '.join(absent)}")
    for policy in plan.of_type(POLICY):
        csp = (((policy.inputs.get("securityHeadersConfig") or {}).get("contentSecurityPolicy") or {})
               .get("contentSecurityPolicy", ""))
        if "unsafe-inline" in csp or "unsafe-eval" in csp or "script-src 'self'" not in csp:
            result.problems.append(f"{policy.name}: the CSP must allow scripts from the site only: {csp!r}")
    scripts = sum(len(gzip.compress(p.read_bytes())) for p in dist.rglob("*.js"))
    result.figures.append(f"{len(built)} files, JavaScript {scripts / 1024:.1f} kB gzipped")
    return result
