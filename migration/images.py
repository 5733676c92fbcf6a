"""Legacy `images` documents -> items of the images table (HASH imageId, RANGE createdAt; UserIndex on userId).

- `_id` -> `imageId` (ObjectId hex).
- `createdAt` (the sort key, so it must exist): normalised from any legacy form; when missing or unparseable it is
  the ObjectId's creation time (warning `createdAt_from_objectid`; an unparseable original is kept as
  `legacyCreatedAt`).
- `userId` -> hex string; a string id is accepted as it is (`userId_was_string`); a missing or null owner leaves
  the image out of `UserIndex` (`userId_missing`); any other type is dead-lettered.
- `imageUrl` / `audioUrl`: a legacy `/uploads/<kind>/<file>` path becomes `imageKey` / `audioKey`
  (`<kind>/<userId>/<file>`, `unowned` when there is no owner) with the file's SHA-256 in `imageSha256` /
  `audioSha256`; with a media directory, a file that is not there is `media_missing` and the item gets no key.
  Provider URLs (expired long ago) and empty values become `media_not_local` / `media_missing`. The original value
  is always kept as `legacyImageUrl` / `legacyAudioUrl`, so nothing is lost.
- Everything else is kept under its own name by the generic rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bson import ObjectId

from functions.shared.storage import media_key
from functions.shared.tables import IMAGES
from functions.shared.versions import format_timestamp
from migration.convert import AttributeValue, Findings, Unconvertible, to_attribute
from migration.mapping import (
    Converted,
    check_item,
    convert_fields,
    legacy_id_string,
    media_file,
    set_timestamp,
    set_version,
)

MEDIA_FIELDS = (("imageUrl", "images", "image"), ("audioUrl", "audio", "audio"))
UNOWNED = "unowned"


class ImagesMapper:
    collection = "images"
    spec = IMAGES
    key_fields = ("_id", "createdAt")

    def __init__(self, media_dir: Path | None = None) -> None:
        self.media_dir = media_dir

    def convert(self, doc: dict[str, Any]) -> Converted:
        findings = Findings()
        item: dict[str, AttributeValue] = {"imageId": {"S": legacy_id_string(doc)}}
        item.update(convert_fields(doc, findings, skip=("userId", "imageUrl", "audioUrl", "createdAt")))

        created = set_timestamp(item, doc, "createdAt", findings)
        if created is None:
            if doc.get("createdAt") is not None:
                item["legacyCreatedAt"] = to_attribute(doc["createdAt"], findings, "createdAt")
            if not isinstance(doc.get("_id"), ObjectId):
                raise Unconvertible("missing_key", "createdAt is missing and _id is not an ObjectId to date it by")
            findings.add("createdAt_from_objectid", "createdAt")
            created = format_timestamp(doc["_id"].generation_time)
            item["createdAt"] = {"S": created}
        updated = set_timestamp(item, doc, "updatedAt", findings)

        owner = self._owner(doc.get("userId"), findings)
        if owner:
            item["userId"] = {"S": owner}
        converted = Converted(item=item, key=(), findings=findings)
        for field_name, kind, prefix in MEDIA_FIELDS:
            self._media(doc, field_name, kind, prefix, owner or UNOWNED, converted)
        set_version(item, doc, updated, created)
        converted.key = check_item(self.spec, item)
        return converted

    @staticmethod
    def _owner(value: Any, findings: Findings) -> str | None:
        if isinstance(value, ObjectId):
            return str(value)
        if value is None:
            findings.add("userId_missing", "userId")
            return None
        if isinstance(value, str) and value.strip():
            findings.add("userId_was_string", "userId")
            return value.strip()
        raise Unconvertible("index_key_type", f"userId must be an ObjectId or a string, not {value!r:.60}")

    def _media(self, doc: dict[str, Any], field_name: str, kind: str, prefix: str, owner: str,
               converted: Converted) -> None:
        if field_name not in doc:
            return
        url = doc[field_name]
        converted.item[f"legacy{field_name[0].upper()}{field_name[1:]}"] = to_attribute(url, converted.findings,
                                                                                        field_name)
        local = f"/uploads/{kind}/"
        if not isinstance(url, str) or not url.strip():
            converted.findings.add("media_missing", field_name)
            return
        if not url.startswith(local) or "/" in url[len(local):] or not url[len(local):]:
            converted.findings.add("media_not_local", field_name)
            return
        file_name = url[len(local):]
        key = media_key(kind, owner, file_name)  # type: ignore[arg-type]
        if self.media_dir is not None:
            found = media_file(kind, self.media_dir, f"{kind}/{file_name}", key)
            if found is None:
                converted.findings.add("media_missing", field_name)
                return
            converted.media.append(found)
            converted.item[f"{prefix}Sha256"] = {"S": found.sha256}
        converted.item[f"{prefix}Key"] = {"S": key}
