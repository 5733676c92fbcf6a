"""The image job, invoked asynchronously with `{"jobId"}`: transcribe -> weather -> prompt -> image -> S3 ->
image item -> job succeeded -> push `{jobId, status, imageId, keys}` to the user's sockets.

Every step is safe to run twice (Lambda retries asynchronous events): the image id was fixed when the job was
created, the image's `createdAt` (its sort key) is recorded on the job once, and a finished job is left alone.
What the caller or a provider gets wrong ends the job `failed` with a reason; only our own bugs raise, and then
Lambda retries and the maintenance schedule fails whatever is still unfinished.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.manifest import IMAGE_MODEL_ENV, TRANSCRIPTION_MODEL_ENV, WEBSOCKET_ENDPOINT_ENV
from functions.shared import openai_calls
from functions.shared.aws import LazyClient, client, to_item
from functions.shared.jobs import TERMINAL, JobStore, public_view
from functions.shared.prompts import build_prompt
from functions.shared.push import Pusher
from functions.shared.secrets import SecretNotSet, api_key
from functions.shared.settings import bucket_name, optional, required, table_name
from functions.shared.storage import media_key
from functions.shared.versions import stamp, timestamp_millis
from functions.shared.weather import DEFAULT_BASE_URL, WeatherService, WeatherUnavailable

logger = Logger()
metrics = Metrics()
BUCKET = bucket_name("media")
IMAGES = table_name("images")
IMAGE_MODEL = required(IMAGE_MODEL_ENV)
TRANSCRIPTION_MODEL = required(TRANSCRIPTION_MODEL_ENV)
STORE = JobStore(LazyClient("dynamodb"), table_name("jobs"))
WEATHER = WeatherService(LazyClient("dynamodb"), table_name("weather-cache"), lambda: api_key("openweatherApiKey"),
                         optional("OPENWEATHER_BASE_URL", DEFAULT_BASE_URL) or DEFAULT_BASE_URL)
PUSHER = Pusher(LazyClient("dynamodb"), table_name("connections"),
                LazyClient("apigatewaymanagementapi", required(WEBSOCKET_ENDPOINT_ENV)))


class JobFailed(Exception):
    """The job cannot succeed; the message is its reason."""


def transcript(job: dict[str, Any], openai: Any, deadline: openai_calls.Deadline) -> str:
    request = job["request"]
    if "text" in request:
        return request["text"]
    s3 = client("s3")
    try:
        obj = s3.get_object(Bucket=BUCKET, Key=request["audioKey"])
    except s3.exceptions.NoSuchKey:
        raise JobFailed("the uploaded audio no longer exists") from None
    return openai_calls.transcribe(openai, deadline, TRANSCRIPTION_MODEL, obj["Body"].read(),
                                   os.path.basename(request["audioKey"]), obj.get("ContentType") or "audio/webm")


def weather_at(location: dict[str, Any] | None) -> dict[str, Any] | None:
    """Weather is context, not the point: when it is unavailable the image is made without it."""
    if not location:
        return None
    try:
        return WEATHER.current(float(location["lat"]), float(location["lon"]))
    except (WeatherUnavailable, SecretNotSet) as error:
        logger.warning("generating without weather", extra={"reason": str(error)})
        metrics.add_metric(name="WeatherUnavailable", unit=MetricUnit.Count, value=1)
        return None


def run(job: dict[str, Any], deadline: openai_calls.Deadline) -> dict[str, Any]:
    request = job["request"]
    try:
        openai = openai_calls.client(api_key("openaiApiKey"))
    except SecretNotSet as error:
        raise JobFailed(str(error)) from None
    text = transcript(job, openai, deadline)
    location = request.get("location")
    weather = weather_at(location)
    prompt = build_prompt(text, weather, request.get("style"), (location or {}).get("city"))
    png = openai_calls.generate_image(openai, deadline, IMAGE_MODEL, prompt)
    image_id, user_id = job["imageId"], job["userId"]
    key = media_key("images", user_id, f"{image_id}.png")
    client("s3").put_object(Bucket=BUCKET, Key=key, Body=png, ContentType="image/png",
                            Metadata={"image-id": image_id, "job-id": job["jobId"]})
    created = STORE.image_created_at(job["jobId"])
    item = {
        "imageId": image_id, "createdAt": created, "userId": user_id, "transcription": text, "prompt": prompt,
        "imageKey": key, "audioKey": request.get("audioKey"), "model": IMAGE_MODEL, "isPublic": False,
        "weather": ({"description": weather["description"], "temperature": weather["temperature"],
                     "location": weather.get("city") or (location or {}).get("city")} if weather else None),
        "location": location, "style": request.get("style"), "jobId": job["jobId"],
        **stamp(timestamp_millis(created)),
    }
    client("dynamodb").put_item(TableName=IMAGES, Item=to_item(item))
    return {"imageKey": key}


def push(job: dict[str, Any]) -> None:
    delivered, gone = PUSHER.to_user(job["userId"], {"type": "job", **public_view(job)})
    metrics.add_metric(name="PushesDelivered", unit=MetricUnit.Count, value=delivered)
    if gone:
        metrics.add_metric(name="GoneConnectionsRemoved", unit=MetricUnit.Count, value=gone)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job_id = str(event.get("jobId") or "")
    job = STORE.get(job_id) if job_id else None
    if job is None:
        logger.error("no such job; dropping the event", extra={"jobId": job_id})
        return {"jobId": job_id, "status": "unknown"}
    if job["status"] in TERMINAL or not STORE.start(job_id):
        return {"jobId": job_id, "status": job["status"]}  # a redelivered event for a finished job
    try:
        keys = run(job, openai_calls.Deadline.from_context(context))
    except (JobFailed, openai_calls.ProviderFailed) as error:
        STORE.fail(job_id, str(error))
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        failed = STORE.get(job_id) or {**job, "status": "failed", "error": str(error)}
        push(failed)
        return public_view(failed)
    done = STORE.succeed(job_id, keys)
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    push(done)
    return public_view(done)
