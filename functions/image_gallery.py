"""GET /api/v1/images (the caller's gallery, newest first), GET and DELETE /api/v1/images/{imageId}.

The cursor is the last item's `(imageId, createdAt)`, base64url JSON, then `.` and an HMAC-SHA256 (128 bits) of
it and the caller's id under the stage's generated `cursorKey` (SSM SecureString): a tampered, crafted or another
user's cursor is a 400 before any read. The user part of the index key is never in it either: it is always the
caller's. URLs in the
answers are presigned and expire in 15 minutes; items keep keys only.

A delete removes the item and leaves its tombstone (functions/shared/tombstones.py) in one transaction: during a
cutover the reverse sync deletes the legacy document by it, and an older write from the legacy side cannot bring
the image back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response

from functions.shared.api import bad_request, caller, make_resolver, not_found, query_int
from functions.shared.aws import client, from_item
from functions.shared.image_items import find_image
from functions.shared.media_access import read_url
from functions.shared.secrets import api_key
from functions.shared.settings import bucket_name, table_name
from functions.shared.tombstones import cancellation_codes, tombstone_put
from functions.shared.versions import ORIGIN_AWS, now_millis

PAGE_DEFAULT, PAGE_MAX = 20, 50
VISIBLE = ("imageId", "userId", "createdAt", "updatedAt", "prompt", "transcription", "weather", "location", "tags",
           "likes", "isPublic", "model", "width", "height", "format", "bytes")

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
TABLE = table_name("images")
STATE_TABLE = table_name("migration-state")
BUCKET = bucket_name("media")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(payload: str, user_id: str, key: str) -> str:
    return _b64(hmac.new(key.encode(), f"{user_id}\0{payload}".encode(), hashlib.sha256).digest()[:16])


def encode_cursor(last_key: dict[str, Any], user_id: str, key: str) -> str:
    raw = json.dumps([last_key["imageId"]["S"], last_key["createdAt"]["S"]], separators=(",", ":"))
    payload = _b64(raw.encode())
    return f"{payload}.{_signature(payload, user_id, key)}"


def decode_cursor(cursor: str, user_id: str, key: str) -> dict[str, Any]:
    payload, _, signature = cursor.partition(".")
    try:
        if not hmac.compare_digest(signature.encode(), _signature(payload, user_id, key).encode()):
            raise ValueError
        image_id, created_at = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if not (isinstance(image_id, str) and isinstance(created_at, str) and image_id and created_at):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise bad_request("cursor is not one this API returned (start again without it)", "cursor") from None
    return {"imageId": {"S": image_id}, "createdAt": {"S": created_at}, "userId": {"S": user_id}}


def view(item: dict[str, Any]) -> dict[str, Any]:
    s3 = client("s3")
    shown = {key: item[key] for key in VISIBLE if key in item}
    shown["imageUrl"] = read_url(s3, BUCKET, item.get("imageKey"))
    shown["thumbnailUrl"] = read_url(s3, BUCKET, item.get("thumbnailKey"))
    return shown


def find(image_id: str) -> dict[str, Any] | None:
    if not image_id or len(image_id) > 64:
        return None
    return find_image(client("dynamodb"), TABLE, image_id)


@app.get("/images")
def gallery() -> dict[str, Any]:
    user = caller(app)
    limit = query_int(app, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
    kwargs: dict[str, Any] = {"TableName": TABLE, "IndexName": "UserIndex", "ScanIndexForward": False,
                              "KeyConditionExpression": "userId = :u", "Limit": limit,
                              "ExpressionAttributeValues": {":u": {"S": user.user_id}}}
    cursor = app.current_event.get_query_string_value("cursor")
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor, user.user_id, api_key("cursorKey"))
    page = client("dynamodb").query(**kwargs)
    last = page.get("LastEvaluatedKey")
    return {"items": [view(from_item(item)) for item in page.get("Items", [])],
            "nextCursor": encode_cursor(last, user.user_id, api_key("cursorKey")) if last else None}


@app.get("/images/<imageId>")
def get_image(imageId: str) -> dict[str, Any]:  # noqa: N803
    user = caller(app)
    item = find(imageId)
    if item is None or (item.get("userId") != user.user_id and item.get("isPublic") is not True):
        raise not_found("image")  # someone else's private image does not exist, as far as the caller can tell
    return view(item)


@app.delete("/images/<imageId>")
def delete_image(imageId: str) -> Response:  # noqa: N803
    user = caller(app)
    item = find(imageId)
    if item is None or item.get("userId") != user.user_id:
        raise not_found("image")
    dynamodb = client("dynamodb")
    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": TABLE, "Key": {"imageId": {"S": item["imageId"]},
                                                    "createdAt": {"S": item["createdAt"]}},
                        "ConditionExpression": "userId = :u",
                        "ExpressionAttributeValues": {":u": {"S": user.user_id}}}},
            tombstone_put(STATE_TABLE, "images", item["imageId"], now_millis(), ORIGIN_AWS)])
    except dynamodb.exceptions.TransactionCanceledException as error:
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
            raise not_found("image") from None  # deleted (or never yours) meanwhile
        raise
    s3 = client("s3")
    for key in (item.get("imageKey"), item.get("thumbnailKey"), item.get("audioKey")):
        if key:  # the item goes first: an orphaned object is harmless, an item pointing at nothing is not
            s3.delete_object(Bucket=BUCKET, Key=key)
    return Response(status_code=204)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
