"""The migrated collections and the mapper of each, in load order (users first, so images find their owners)."""

from __future__ import annotations

from pathlib import Path

from migration.images import ImagesMapper
from migration.mapping import Mapper
from migration.users import UsersMapper


def mappers(media_dir: Path | None) -> dict[str, Mapper]:
    """One mapper per collection; images need the uploads directory to checksum media files."""
    return {"users": UsersMapper(), "images": ImagesMapper(media_dir)}
