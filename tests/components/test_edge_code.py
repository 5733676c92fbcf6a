"""The site behaviour's viewer-request function, run under Node.js as CloudFront would run it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.edge import EDGE_CODE

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the CloudFront Function tests")


def _rewrite(uris: list[str]) -> list[str]:
    code = (EDGE_CODE / "spa_rewrite.js").read_text()
    script = code + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map(function (u) {{" \
                    "return handler({request: {uri: u, headers: {}}}).uri; })));"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


def test_client_routes_get_index_html_and_files_stay_files() -> None:
    assert _rewrite(["/", "/gallery", "/gallery/", "/images/abc", "/assets/app.3f9c2a1b.js", "/favicon.svg",
                     "/v1.2/page"]) == [
        "/index.html", "/index.html", "/index.html", "/index.html", "/assets/app.3f9c2a1b.js", "/favicon.svg",
        "/index.html"]


def test_the_function_fits_cloudfront_limits() -> None:
    assert len((EDGE_CODE / "spa_rewrite.js").read_bytes()) < 10 * 1024
