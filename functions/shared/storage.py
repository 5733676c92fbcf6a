"""S3 bucket specs and media key layout, shared by infra, functions, local mode and the migration.

Items store S3 keys, never URLs (URLs expire; keys do not). Every media object lives under one of the prefixes
below, named after the item it belongs to, so a key can be rebuilt from an item and an item found from a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

MediaKind = Literal["audio", "images", "thumbnails"]

MEDIA_PREFIXES: tuple[MediaKind, ...] = ("audio", "images", "thumbnails")


@dataclass(frozen=True)
class BucketSpec:
    """A bucket the stack owns. All are private and encrypted; only `media` takes browser uploads."""

    logical_name: str
    versioned: bool
    description: str

    def physical_name(self, stage: str) -> str:
        """The local-mode name. In AWS, Pulumi auto-names buckets (names are global) and passes them on."""
        return f"mumble-{stage}-{self.logical_name}"


MEDIA = BucketSpec("media", versioned=True, description="Audio uploads, generated images and thumbnails.")
SITE = BucketSpec("site", versioned=False, description="The static web client, served through CloudFront.")

BUCKETS: Mapping[str, BucketSpec] = {spec.logical_name: spec for spec in (MEDIA, SITE)}


def media_key(kind: MediaKind, owner_id: str, file_name: str) -> str:
    """`<kind>/<owner id>/<file name>`: scoped by owner so IAM and presigned URLs can be limited to one user."""
    if kind not in MEDIA_PREFIXES:
        raise ValueError(f"unknown media kind {kind!r}; expected one of {', '.join(MEDIA_PREFIXES)}")
    if not owner_id or "/" in owner_id:
        raise ValueError(f"media owner id must be non-empty and contain no '/': {owner_id!r}")
    if not file_name or "/" in file_name or file_name in {".", ".."}:
        raise ValueError(f"media file name must be a plain file name: {file_name!r}")
    return f"{kind}/{owner_id}/{file_name}"
