"""POST /api/v1/audio/upload: a presigned PUT for the caller's recording that S3 itself holds to the declared
content type and size (both are signed headers), under `audio/<caller>/`, so the key is the caller's by
construction. 25 MB is OpenAI's transcription limit: a larger file could never be transcribed."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.shared.api import bad_request, caller, json_body, make_resolver
from functions.shared.aws import client
from functions.shared.media_access import MAX_AUDIO_BYTES
from functions.shared.settings import bucket_name
from functions.shared.storage import media_key

UPLOAD_URL_SECONDS = 300
EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3",
              "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav"}
CONTENT_TYPE = re.compile(r"^(audio/[a-z0-9.+-]+)(\s*;\s*codecs=[a-z0-9.,\" -]+)?$")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "contentType": {"type": "string", "minLength": 1, "maxLength": 100},
        "size": {"type": "integer", "minimum": 1, "maximum": MAX_AUDIO_BYTES},
    },
    "required": ["contentType", "size"],
    "additionalProperties": False,
}

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
BUCKET = bucket_name("media")


@app.post("/audio/upload")
def create_upload() -> tuple[dict[str, Any], int]:
    user = caller(app)
    body = json_body(app, SCHEMA)
    content_type = body["contentType"].strip().lower()
    match = CONTENT_TYPE.match(content_type)
    if not match or match.group(1) not in EXTENSIONS:
        raise bad_request("contentType must be audio/webm, audio/ogg, audio/mp4, audio/mpeg or audio/wav",
                          "contentType")
    key = media_key("audio", user.user_id, f"{uuid.uuid4().hex}.{EXTENSIONS[match.group(1)]}")
    url = client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": key, "ContentType": content_type, "ContentLength": body["size"]},
        ExpiresIn=UPLOAD_URL_SECONDS)
    metrics.add_metric(name="AudioUploadsSigned", unit=MetricUnit.Count, value=1)
    return {"audioKey": key, "upload": {"url": url, "method": "PUT", "expiresIn": UPLOAD_URL_SECONDS,
                                        "headers": {"Content-Type": content_type,
                                                    "Content-Length": str(body["size"])}},
            "maxBytes": MAX_AUDIO_BYTES}, 201


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
