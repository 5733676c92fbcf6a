"""New-stack items -> legacy MongoDB documents (the reverse sync), and the version of a legacy document.

The inverse of the migration's mapping (migration/users.py, migration/images.py) for what the new stack writes:

- The key (`userId` / `imageId`) becomes `_id`, an ObjectId when it is 24 hex digits (as the migration made it);
  an image's `userId` likewise, so the legacy app's references keep working.
- Timestamps (`createdAt`, `updatedAt`, `lastLoginAt`, `YYYY-MM-DDTHH:MM:SS.mmmZ`) become BSON dates.
- `legacyImageUrl` / `legacyAudioUrl` (the original values the migration kept) become `imageUrl` / `audioUrl`
  again; an image made on the new stack gets the legacy `/uploads/<kind>/<file>` path of its S3 key (the object
  itself stays in S3: `python -m migration.media_back` copies it to that path on the legacy host).
- Every value goes back to the BSON type the legacy document holds at the same place (`bson_values`, with the
  document as it is now as the template): B to Binary of the document's subtype (UUIDs stay subtype 4), N to
  Decimal128 / Int64 / double / int, S to ObjectId or date, and the strings the migration made of what DynamoDB
  cannot hold (`NaN`, `Infinity`, canonical extended JSON of regexes, code, timestamps, too-deep values) back to
  those values. Where the document has no such field (or no document yet), numbers become int or float, sets
  lists, binary plain bytes (BSON binary subtype 0). `sourceVersion` and `origin` are written too: the forward
  sync recognises its own echo by them.
- Stream records carry binary values as base64 text (Lambda's JSON); `bson_values` decodes them.
- Never removed from a legacy document: `passwordHash`. The new stack drops it once the user has signed in through
  Cognito, but legacy sign-in still needs it after a rollback.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util

from functions.shared.versions import VERSION_ATTRIBUTE, datetime_millis, timestamp_millis

TIMESTAMPS = ("createdAt", "updatedAt", "lastLoginAt")
KEY_OF = {"users": "userId", "images": "imageId"}
MEDIA = (("imageUrl", "legacyImageUrl", "imageKey", "images"), ("audioUrl", "legacyAudioUrl", "audioKey", "audio"))
PROTECTED = ("passwordHash",)


# Values the migration stores as canonical extended JSON text (migration/convert.py: unsupported_bson_type).
EXTENDED_JSON_TYPES = (Regex, Code, Timestamp, MinKey, MaxKey, DBRef)
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def bson_values(image: dict[str, Any], template: dict[str, Any] | None) -> dict[str, Any]:
    """A DynamoDB item (attribute values, as a stream record or boto3 gives them) as plain values of the BSON
    types `template` (the legacy document now) has at the same places."""
    template = template or {}
    return {name: _bson_value(value, template.get(name)) for name, value in image.items()}


def _bson_value(value: dict[str, Any], like: Any) -> Any:
    (kind, inner), = value.items()
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return bool(inner)
    if kind == "S":
        return _from_string(inner, like)
    if kind == "N":
        return _from_number(inner, like)
    if kind == "B":
        return _from_binary(_bytes(inner), like)
    if kind == "M":
        nested = like if isinstance(like, dict) else {}
        return {key: _bson_value(child, nested.get(key)) for key, child in inner.items()}
    if kind == "L":
        nested_list = like if isinstance(like, list) else []
        return [_bson_value(child, nested_list[n] if n < len(nested_list) else None) for n, child in enumerate(inner)]
    if kind == "SS":
        return sorted(inner)
    if kind == "NS":
        return sorted(_from_number(number, None) for number in inner)
    if kind == "BS":
        return [_bytes(item) for item in inner]
    raise ValueError(f"unknown attribute type {kind}")


def _bytes(inner: Any) -> bytes:
    return base64.b64decode(inner) if isinstance(inner, str) else bytes(inner)


def _from_string(text: str, like: Any) -> Any:
    if isinstance(like, ObjectId):
        return legacy_id(text)
    if isinstance(like, dt.datetime):
        converted = _bson_date(text)
        if isinstance(converted, dt.datetime):
            return converted
    if isinstance(like, float) and text in NON_FINITE:
        return NON_FINITE[text]
    if isinstance(like, Decimal128):
        try:
            return Decimal128(text)
        except (InvalidOperation, ValueError):
            return text
    if isinstance(like, EXTENDED_JSON_TYPES) or (isinstance(like, (dict, list)) and text.startswith(("{", "["))):
        try:
            return json_util.loads(text)
        except ValueError:
            return text
    return text


def _from_number(text: str, like: Any) -> Any:
    number = Decimal(text)
    if isinstance(like, Decimal128):
        return Decimal128(number)
    if isinstance(like, float) and not isinstance(like, bool):
        return float(number)
    if number == number.to_integral_value():
        whole = int(number)
        if -2 ** 63 <= whole < 2 ** 63:  # what BSON can hold as an integer
            return Int64(whole) if isinstance(like, Int64) else whole
        return Decimal128(number) if len(number.as_tuple().digits) <= 34 else float(number)
    return float(number)


def _from_binary(data: bytes, like: Any) -> Any:
    if isinstance(like, Binary):
        return Binary(data, like.subtype)
    return data


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
            return datetime_millis(value)
    if isinstance(doc.get("_id"), ObjectId):
        return datetime_millis(doc["_id"].generation_time)
    return 0


def item_version(item: dict[str, Any]) -> int:
    return int(item.get(VERSION_ATTRIBUTE) or 0)
