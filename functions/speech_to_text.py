"""POST /api/v1/transcriptions: `{audioKey}` of the caller's upload -> its transcript (OpenAI, model from config)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.manifest import TRANSCRIPTION_MODEL_ENV
from functions.shared import openai_calls
from functions.shared.api import ApiError, bad_request, caller, json_body, make_resolver, not_found
from functions.shared.aws import client
from functions.shared.media_access import MAX_AUDIO_BYTES, owns_media_key
from functions.shared.secrets import SecretNotSet, api_key
from functions.shared.settings import bucket_name, required

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"audioKey": {"type": "string", "minLength": 1, "maxLength": 512}},
    "required": ["audioKey"],
    "additionalProperties": False,
}

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
BUCKET = bucket_name("media")
MODEL = required(TRANSCRIPTION_MODEL_ENV)


@app.post("/transcriptions")
def transcribe() -> dict[str, Any]:
    user = caller(app)
    key = json_body(app, SCHEMA)["audioKey"]
    if not owns_media_key(user.user_id, key, "audio"):
        raise bad_request("audioKey must name one of your own uploads (audio/<your id>/...)", "audioKey")
    s3 = client("s3")
    try:
        obj = s3.get_object(Bucket=BUCKET, Key=key)
    except s3.exceptions.NoSuchKey:
        raise not_found("audio upload") from None
    if obj["ContentLength"] > MAX_AUDIO_BYTES:
        raise ApiError(413, "TooLarge", f"audio over {MAX_AUDIO_BYTES} bytes cannot be transcribed", "audioKey")
    audio = obj["Body"].read()
    try:
        openai = openai_calls.client(api_key("openaiApiKey"))
        text = openai_calls.transcribe(openai, openai_calls.Deadline.from_context(app.lambda_context), MODEL, audio,
                                       os.path.basename(key), obj.get("ContentType") or "audio/webm")
    except SecretNotSet as error:
        logger.error(str(error))
        raise ApiError(503, "ServiceUnavailable", "transcription is not configured on this stage") from None
    except openai_calls.ProviderFailed as error:
        metrics.add_metric(name="TranscriptionFailures", unit=MetricUnit.Count, value=1)
        raise ApiError(502, "UpstreamError", str(error)) from None
    metrics.add_metric(name="Transcriptions", unit=MetricUnit.Count, value=1)
    return {"audioKey": key, "text": text, "model": MODEL}


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
