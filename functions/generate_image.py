"""POST /api/v1/generate -> 202 `{jobId}` (idempotent on `Idempotency-Key`) and GET /api/v1/jobs/{jobId}, the
polling fallback of the WebSocket push. The work itself runs in `generateImageWorker`, invoked asynchronously:
image generation can outlast API Gateway's 30 s integration limit."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.shared import jobs
from functions.shared.api import ApiError, bad_request, caller, json_body, make_resolver, not_found
from functions.shared.aws import LazyClient, client
from functions.shared.settings import bucket_name, function_name, table_name

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
STORE = jobs.JobStore(LazyClient("dynamodb"), table_name("jobs"))
SUBMITTER = jobs.Submitter(STORE, LazyClient("s3"), bucket_name("media"), LazyClient("lambda"),
                           function_name("generateImageWorker"), table_name("idempotency"))


@app.post("/generate")
def generate() -> tuple[dict[str, Any], int]:
    user = caller(app)
    key = app.current_event.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise bad_request("Idempotency-Key must be 8-128 characters of letters, digits and ._:-", "Idempotency-Key")
    request = json_body(app, jobs.SUBMISSION_SCHEMA)
    try:
        accepted = SUBMITTER.submit(user.user_id, request, key, app.lambda_context)
    except Exception as error:
        mapped = jobs.submission_error(error)
        if mapped is None:
            raise
        raise ApiError(*mapped) from None
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return accepted, 202


@app.get("/jobs/<jobId>")
def get_job(jobId: str) -> dict[str, Any]:  # noqa: N803 - the route's parameter name
    user = caller(app)
    job = STORE.get(jobId) if len(jobId) <= 64 else None
    if job is None or job.get("userId") != user.user_id:
        raise not_found("job")
    return jobs.public_view(job)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
