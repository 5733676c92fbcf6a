"""S3 `ObjectCreated` under `images/` -> a thumbnail under `thumbnails/` and the image's metadata (width, height,
format, bytes) on its item.

The item is found by the object's `image-id` metadata (set by the worker and by the migration's media copy), else by
the file name's stem. Redelivery is a no-op: the item remembers the ETag it was processed from.

Media is written before its item (the worker and the migration both keep that invariant), so the event can arrive
before the item exists. An object whose `image-id` metadata promises an item looks again after `ITEM_WAITS_S` (the
worker writes its item milliseconds after the image; a migration batch within a second or two), and if the item is
still not there, fails with `ItemNotWrittenYet`: Lambda retries the event (the manifest's `async_retries`, minutes
apart on AWS) and the retry finds the item; after the last retry the event goes to the on-failure destination, not
silently nowhere. A stray file (no metadata, no item by its name) still gets its thumbnail and is `no-item`.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from PIL import Image, UnidentifiedImageError

from functions.shared.aws import client, to_item
from functions.shared.image_items import find_image
from functions.shared.settings import table_name
from functions.shared.versions import stamp

THUMBNAIL_PX = 320
MAX_PIXELS = 40_000_000  # refuse decompression bombs rather than run out of memory
ITEM_WAITS_S = (0.25, 0.5, 0.75)  # pauses before looking again for a promised item: 1.5 s of billed time at most

logger = Logger()
metrics = Metrics()
IMAGES = table_name("images")
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def thumbnail_key(image_key: str) -> str:
    _, owner, file_name = image_key.split("/", 2)
    return f"thumbnails/{owner}/{os.path.splitext(file_name)[0]}.jpg"


class ItemNotWrittenYet(RuntimeError):
    """The object names its image, whose item is not written yet: raised so that Lambda retries the event."""


def process(bucket: str, key: str) -> str:
    """What happened to one object: `processed`, `duplicate`, `no-item`, `not-an-image` or `gone`."""
    s3 = client("s3")
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return "gone"  # deleted before we got here
    etag = obj["ETag"].strip('"')
    promised = obj.get("Metadata", {}).get("image-id")
    image_id = promised or os.path.splitext(os.path.basename(key))[0]
    dynamodb = client("dynamodb")
    item = find_image(dynamodb, IMAGES, image_id)
    for pause in ITEM_WAITS_S if promised else ():
        if item is not None:
            break
        time.sleep(pause)
        item = find_image(dynamodb, IMAGES, image_id)
    if item is None and promised:
        obj["Body"].close()
        raise ItemNotWrittenYet(f"{key}: image {image_id} has no item yet; the event will be retried")
    if item is not None and item.get("processedEtag") == etag:
        return "duplicate"
    data = obj["Body"].read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, image_format = image.width, image.height, (image.format or "unknown").lower()
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        logger.warning("not a readable image", extra={"key": key, "reason": str(error)})
        return "not-an-image"
    thumb = thumbnail_key(key)
    s3.put_object(Bucket=bucket, Key=thumb, Body=out.getvalue(), ContentType="image/jpeg",
                  Metadata={"image-id": image_id})
    if item is None:
        return "no-item"
    values = {"width": width, "height": height, "format": image_format, "bytes": len(data), "thumbnailKey": thumb,
              "processedEtag": etag, **stamp()}
    try:
        dynamodb.update_item(
            TableName=IMAGES, Key={"imageId": {"S": item["imageId"]}, "createdAt": {"S": item["createdAt"]}},
            UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(values))),
            ConditionExpression="attribute_exists(imageId)",
            ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(values)},
            ExpressionAttributeValues=to_item({f":{i}": value for i, value in enumerate(values.values())}))
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return "no-item"  # deleted meanwhile
    return "processed"


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context: Any) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)
        if not key.startswith("images/"):
            continue
        outcome = process(record.s3.bucket.name, key)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        metrics.add_metric(name=f"Images_{outcome.replace('-', '_')}", unit=MetricUnit.Count, value=1)
    return outcomes
