"""Scheduled maintenance: a job still `pending` or `running` long after the worker's timeout can never finish
(its invocation was lost or killed), so it becomes `failed` with a reason; the counts go out as metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.shared.aws import LazyClient, client
from functions.shared.jobs import JobStore
from functions.shared.settings import table_name
from functions.shared.versions import format_timestamp

STUCK_AFTER = dt.timedelta(minutes=15)  # the worker's timeout is 5 minutes; Lambda retries it once

logger = Logger()
metrics = Metrics()
STORE = JobStore(LazyClient("dynamodb"), table_name("jobs"))


def fail_stuck_jobs(now: dt.datetime) -> dict[str, int]:
    cutoff = format_timestamp(now - STUCK_AFTER)
    kwargs: dict[str, Any] = {
        "TableName": STORE.table, "ProjectionExpression": "jobId, #s",
        "FilterExpression": "#s IN (:pending, :running) AND updatedAt < :cutoff",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":pending": {"S": "pending"}, ":running": {"S": "running"},
                                      ":cutoff": {"S": cutoff}},
    }
    counts = {"scanned": 0, "failed": 0}
    while True:
        page = client("dynamodb").scan(**kwargs)
        counts["scanned"] += page.get("ScannedCount", 0)
        for item in page.get("Items", []):
            status = item["status"]["S"]
            if STORE.fail(item["jobId"]["S"], f"timed out while {status}; please submit it again"):
                counts["failed"] += 1
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    counts = fail_stuck_jobs(dt.datetime.now(dt.timezone.utc))
    metrics.add_metric(name="StuckJobsFailed", unit=MetricUnit.Count, value=counts["failed"])
    metrics.add_metric(name="JobsScanned", unit=MetricUnit.Count, value=counts["scanned"])
    logger.info("maintenance done", extra=counts)
    return counts
