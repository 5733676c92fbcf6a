"""What every collection mapper shares: the converted-document shape, key validation, size check, item version.

A mapper turns one legacy document into one DynamoDB item (typed attribute values) plus the media files it
references, or raises `Unconvertible` naming the rule the document breaks. Mappers are pure apart from reading
media files to checksum them, so dry-run, the real run and verify convert every document identically.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

from bson import ObjectId

from functions.shared.tables import TableSpec
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_LEGACY, VERSION_ATTRIBUTE, timestamp_millis
from migration.convert import (
    MAX_ITEM_BYTES,
    AttributeValue,
    Findings,
    Unconvertible,
    item_size,
    parse_legacy_timestamp,
    to_attribute,
)


@dataclass(frozen=True)
class MediaFile:
    """A legacy upload to copy: where it is under the uploads dir, the S3 key it gets, its SHA-256 (base64)."""

    kind: str
    relative_path: str
    key: str
    sha256: str
    size: int


@dataclass
class Converted:
    """One document, ready to write."""

    item: dict[str, AttributeValue]
    key: tuple[str, ...]
    findings: Findings = field(default_factory=Findings)
    media: list[MediaFile] = field(default_factory=list)


class Mapper(Protocol):
    collection: str
    spec: TableSpec
    key_fields: tuple[str, ...]  # the legacy fields the item's key is made from: changing one moves the item

    def convert(self, doc: dict[str, Any]) -> Converted: ...


def legacy_id_string(doc: dict[str, Any]) -> str:
    """The item id for a legacy `_id`: ObjectId hex, or the string form of a string/int id."""
    if "_id" not in doc:
        raise Unconvertible("missing_key", "document has no _id")
    value = doc["_id"]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    raise Unconvertible("key_type", f"_id of type {type(value).__name__} cannot be an item key")


def legacy_id_of(spec: TableSpec, item: dict[str, AttributeValue]) -> Any:
    """The legacy `_id` an item came from (ObjectId when the id is 24 hex digits)."""
    value = item[spec.hash_key.name]["S"]
    return ObjectId(value) if ObjectId.is_valid(value) else value


def convert_fields(doc: dict[str, Any], findings: Findings, skip: Iterable[str]) -> dict[str, AttributeValue]:
    """Every field but `_id` and those in `skip`, by the generic rules (unknown fields are kept as they are)."""
    skipped = set(skip) | {"_id"}
    return {name: to_attribute(value, findings, name) for name, value in doc.items() if name not in skipped}


def set_timestamp(item: dict[str, AttributeValue], doc: dict[str, Any], name: str, findings: Findings) -> str | None:
    """Normalise a legacy date field in place; an unparseable value is kept as it was, with a warning."""
    if name not in doc or doc[name] is None:
        return None
    parsed = parse_legacy_timestamp(doc[name])
    if parsed is None:
        findings.add("unparseable_date", name)
        return None
    item[name] = {"S": parsed}
    return parsed


def set_version(item: dict[str, AttributeValue], doc: dict[str, Any], updated: str | None,
                created: str | None) -> None:
    """The item's source version (for last-writer-wins sync) and origin."""
    if updated or created:
        millis = timestamp_millis(updated or created)  # type: ignore[arg-type]
    elif isinstance(doc.get("_id"), ObjectId):
        millis = int(doc["_id"].generation_time.timestamp() * 1000)
    else:
        millis = 0
    item[VERSION_ATTRIBUTE] = {"N": str(millis)}
    item[ORIGIN_ATTRIBUTE] = {"S": ORIGIN_LEGACY}


def check_item(spec: TableSpec, item: dict[str, AttributeValue]) -> tuple[str, ...]:
    """Raise Unconvertible unless the item can be written: keys present, key/index-key types right, size fits.

    Returns the item's primary key values (for de-duplication within a batch).
    """
    for name, expected in spec.index_key_types.items():
        value = item.get(name)
        if value is None:
            if name in spec.key_names:
                raise Unconvertible("missing_key", f"key attribute {name} is missing")
            continue  # an item without an index key is simply not in that (sparse) index
        (kind, inner), = value.items()
        if kind != expected:
            raise Unconvertible("index_key_type", f"{name} must be of type {expected}, not {kind}")
        if inner in ("", b""):
            raise Unconvertible("empty_key", f"{name} is empty, which DynamoDB refuses in a key")
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise Unconvertible("item_too_large", f"item is {size:,} bytes after conversion; DynamoDB's limit is "
                                              f"{MAX_ITEM_BYTES:,}")
    return tuple(item[name]["S"] for name in spec.key_names)


def file_checksum(path: Path) -> tuple[str, int]:
    """A file's SHA-256 as S3 keeps it (base64) and its size, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return base64.b64encode(digest.digest()).decode(), size


def media_file(kind: str, media_dir: Path, relative_path: str, key: str) -> MediaFile | None:
    """Checksum a legacy upload; None when the file is not there."""
    path = media_dir / relative_path
    if not path.is_file():
        return None
    return MediaFile(kind, relative_path, key, *file_checksum(path))
