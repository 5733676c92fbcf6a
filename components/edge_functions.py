"""The CloudFront Functions' code, composed from the files in `edge_code/`.

CloudFront Functions cannot import each other, so each function is its handler file followed by the helper files it
uses (appended, so a handler's `import cf from 'cloudfront';` stays on the first line as the runtime requires).
The Pulumi program deploys exactly what the Node.js tests run. Pure: no pulumi import.
"""

from __future__ import annotations

from pathlib import Path

EDGE_CODE = Path(__file__).parent / "edge_code"
MAX_FUNCTION_BYTES = 10 * 1024  # CloudFront Functions' code size limit

EDGE_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "spa-rewrite": ("spa_rewrite.js", "spa_uri.js"),  # viewer-request, stages without a legacy origin
    "cutover-router": ("cutover_router.js", "cohort.js", "spa_uri.js"),  # viewer-request, with one
    "visitor-cookie": ("visitor_cookie.js", "cohort.js"),  # viewer-response, with one
}

# Names both the edge code and the cutover tooling use.
LEGACY_ORIGIN_ID = "legacy"
COHORT_HEADER = "x-mumble-cohort"
ROUTER_COOKIES = ("mumble-vid", "mumble-cohort")  # the router's own cookies (cohort.js): left out of cache keys


def edge_function_code(name: str) -> str:
    """The deployable source of one function of `EDGE_FUNCTIONS`."""
    return "\n".join((EDGE_CODE / part).read_text() for part in EDGE_FUNCTIONS[name])
