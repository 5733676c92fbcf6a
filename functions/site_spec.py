"""What the web client (site/) needs from whoever serves it, as pure data: the CloudFront edge (components/edge.py),
the media bucket's CORS (components/media.py) and local mode (local/site_server.py) all read it, so the page's
Content-Security-Policy, its security headers, its cache rules and its `config.json` are the same everywhere.

The client needs: its own origin for scripts, styles, `/api/v1` and `/config.json`; the media origin for images
(presigned GETs), recordings played back (`blob:`) and the presigned PUT of a clip; the WebSocket origin; the
Cognito user-pool endpoint. Nothing inline (Vite's build emits none), nothing from any other origin.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from functions.manifest import API_PREFIX

# -- config.json: written by the Pulumi program into the site bucket (no-cache); served by local mode
CONFIG_FILE = "config.json"
CONFIG_KEYS = ("stage", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint", "apiBase", "websocketUrl")
CONFIG_CACHE_CONTROL = "no-cache"  # as the pages (REVALIDATE): a deploy's new settings are seen at once


def site_config(*, stage: str, region: str, user_pool_id: str, user_pool_client_id: str, cognito_endpoint: str,
                websocket_url: str) -> dict[str, str]:
    """The client's runtime settings (site/src/config.ts reads exactly these keys)."""
    config = {"stage": stage, "region": region, "userPoolId": user_pool_id, "userPoolClientId": user_pool_client_id,
              "cognitoEndpoint": cognito_endpoint, "apiBase": API_PREFIX, "websocketUrl": websocket_url}
    assert tuple(config) == CONFIG_KEYS
    return config


def cognito_endpoint(region: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/"


# -- the user pool's password rule: the sign-up form states it, the deployed and the local pool enforce it. A legacy
# password that breaks it cannot be carried over on sign-in (Cognito refuses to set it): that user resets it
# through "forgot password", which the migration trigger also serves.
@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int = 10
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = False


PASSWORD_POLICY = PasswordPolicy()


# -- Content-Security-Policy
@dataclass(frozen=True)
class ClientOrigins:
    """The origins besides its own that the page talks to."""

    media: tuple[str, ...]  # where presigned URLs point (S3)
    websocket: tuple[str, ...]
    cognito: tuple[str, ...]


def aws_origins(region: str) -> ClientOrigins:
    s3 = (f"https://*.s3.{region}.amazonaws.com", "https://*.s3.amazonaws.com")
    return ClientOrigins(media=s3, websocket=(f"wss://*.execute-api.{region}.amazonaws.com",),
                         cognito=(cognito_endpoint(region).rstrip("/"),))


SELF = "'self'"


def content_security_policy(origins: ClientOrigins) -> str:
    def sources(*parts: Iterable[str] | str) -> str:
        out: list[str] = []
        for part in parts:
            out.extend([part] if isinstance(part, str) else part)
        return " ".join(dict.fromkeys(out))

    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {sources(SELF, 'data:', 'blob:', origins.media)}",
        f"media-src {sources(SELF, 'blob:', origins.media)}",
        f"connect-src {sources(SELF, origins.websocket, origins.cognito, origins.media)}",
        "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'", "object-src 'none'",
    ])


# The other security headers, as CloudFront's response-headers policy sets them (components/edge.py maps these).
HSTS_MAX_AGE_S = 63072000
REFERRER_POLICY = "strict-origin-when-cross-origin"
FRAME_OPTIONS = "DENY"


def security_headers(csp: str) -> dict[str, str]:
    """The headers every answer of the site carries (local mode sets exactly these; CloudFront its policy)."""
    return {"Content-Security-Policy": csp,
            "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_S}; includeSubDomains; preload",
            "X-Content-Type-Options": "nosniff", "X-Frame-Options": FRAME_OPTIONS,
            "Referrer-Policy": REFERRER_POLICY, "X-XSS-Protection": "1; mode=block"}


# -- the media bucket's CORS: presigned PUTs of clips from the site's origins only
@dataclass(frozen=True)
class CorsRule:
    allowed_methods: tuple[str, ...] = ("PUT",)
    allowed_headers: tuple[str, ...] = ("content-type", "content-length", "x-amz-*")
    expose_headers: tuple[str, ...] = ("ETag",)
    max_age_seconds: int = 3000


MEDIA_CORS = CorsRule()


# -- cache rules for the built files
HASHED_NAME = re.compile(r"[.-][0-9a-fA-F]{8,}\.[A-Za-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=300"


def cache_control_for(relative_path: str) -> str:
    """Hashed assets never change under their name; index.html must always be revalidated."""
    if HASHED_NAME.search(relative_path):
        return IMMUTABLE
    if relative_path.endswith(".html"):
        return REVALIDATE
    return SHORT


def content_type_for(relative_path: str) -> str:
    guessed, _ = mimetypes.guess_type(relative_path)
    if guessed and (guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml")):
        return guessed + "; charset=utf-8"
    return guessed or "application/octet-stream"


# -- the build: site/dist, stamped with a digest of the sources it was built from
SITE_SOURCES = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src",
                "public")
BUILD_DIR = "dist"
BUILD_STAMP = ".source-digest"  # a dot file: never uploaded (site_files leaves dot files out)


def source_digest(site_root: Path) -> str:
    """SHA-256 over the client's sources (names and bytes), the same on every machine."""
    digest = hashlib.sha256()
    for entry in SITE_SOURCES:
        path = site_root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.is_file() \
            else []
        for file in files:
            digest.update(file.relative_to(site_root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def build_problem(site_root: Path) -> str | None:
    """Why site/dist cannot be deployed as it is (missing, or built from other sources), or None."""
    dist = site_root / BUILD_DIR
    if not (dist / "index.html").is_file():
        return f"{dist} holds no build"
    stamp = dist / BUILD_STAMP
    if not stamp.is_file():
        return f"{dist} was not built by `make site` (no {BUILD_STAMP})"
    if stamp.read_text().strip() != source_digest(site_root):
        return f"{dist} is stale: the sources in {site_root} changed since it was built"
    return None
