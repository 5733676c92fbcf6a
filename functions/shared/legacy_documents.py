"""New-stack items -> legacy MongoDB documents (the reverse sync), and the version of a legacy document.

The inverse of the migration's mapping (migration/users.py, migration/images.py) for what the new stack writes:

- The key (`userId` / `imageId`) becomes `_id`, an ObjectId when it is 24 hex digits (as the migration made it);
  an image's `userId` likewise, so the legacy app's references keep working.
- Timestamps (`createdAt`, `updatedAt`, `lastLoginAt`, `YYYY-MM-DDTHH:MM:SS.mmmZ`) become BSON dates.
- `legacyImageUrl` / `legacyAudioUrl` (the original values the migration kept) become `imageUrl` / `audioUrl`
  again; an image made on the new stack gets the legacy `/uploads/<kind>/<file>` path of its S3 key (the object
  itself stays in S3: `python -m migration.media_back` copies it to that path on the legacy host).
- Numbers become int or float, sets lists; everything else keeps its name. `sourceVersion` and `origin` are
  written too: the forward sync recognises its own echo by them.
- Never removed from a legacy document: `passwordHash`. The new stack drops it once the user has signed in through
  Cognito, but legacy sign-in still needs it after a rollback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import ObjectId

from functions.shared.versions import VERSION_ATTRIBUTE, timestamp_millis

TIMESTAMPS = ("createdAt", "updatedAt", "lastLoginAt")
KEY_OF = {"users": "userId", "images": "imageId"}
MEDIA = (("imageUrl", "legacyImageUrl", "imageKey", "images"), ("audioUrl", "legacyAudioUrl", "audioKey", "audio"))
PROTECTED = ("passwordHash",)


def legacy_id(value: str) -> Any:
    """The legacy form of an id: ObjectId when it is one (24 hex digits), else the string."""
    return ObjectId(value) if ObjectId.is_valid(value) and len(value) == 24 else value


def _bson_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        millis = timestamp_millis(value)
    except ValueError:
        return value
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def legacy_document(collection: str, item: dict[str, Any]) -> dict[str, Any]:
    """The fields of the legacy document for a plain (deserialised) item, `_id` included."""
    key = KEY_OF[collection]
    doc: dict[str, Any] = {"_id": legacy_id(item[key])}
    for name, value in item.items():
        if name == key:
            continue
        doc[name] = _bson_date(value) if name in TIMESTAMPS else value
    if collection == "images":
        if isinstance(doc.get("userId"), str):
            doc["userId"] = legacy_id(doc["userId"])
        for url, original, s3_key, kind in MEDIA:
            if original in doc:
                doc[url] = doc.pop(original)
            elif isinstance(doc.get(s3_key), str):
                doc[url] = f"/uploads/{kind}/{doc[s3_key].rsplit('/', 1)[-1]}"
    return doc


def removed_fields(collection: str, old_item: dict[str, Any] | None, new_item: dict[str, Any]) -> list[str]:
    """Fields the new stack removed from an item, to remove from the legacy document (never a protected one)."""
    if not old_item:
        return []
    old_fields = set(legacy_document(collection, old_item))
    return sorted(old_fields - set(legacy_document(collection, new_item)) - set(PROTECTED))


def document_version(doc: dict[str, Any]) -> int:
    """The migration's version rule on the legacy side: `updatedAt`, else `createdAt`, else the ObjectId's time
    (milliseconds); 0 when none is usable."""
    for name in ("updatedAt", "createdAt"):
        value = doc.get(name)
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            return int(aware.timestamp() * 1000)
    if isinstance(doc.get("_id"), ObjectId):
        return int(doc["_id"].generation_time.timestamp() * 1000)
    return 0


def item_version(item: dict[str, Any]) -> int:
    return int(item.get(VERSION_ATTRIBUTE) or 0)
