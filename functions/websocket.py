"""The WebSocket API: `$connect` (already authorized) records the connection, `$disconnect` forgets it,
`generateImage` submits a job exactly like POST /generate, `$default` answers unknown actions with an error.

Answers go back over the socket through `@connections` (the API has no route responses). Connections expire after
API Gateway's two-hour maximum, so a missed `$disconnect` cannot leave one behind forever.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from functions.manifest import WEBSOCKET_ENDPOINT_ENV
from functions.shared import jobs
from functions.shared.api import schema_error_details
from functions.shared.aws import LazyClient, client, to_item
from functions.shared.push import Pusher
from functions.shared.request_body import BodyError, read_json
from functions.shared.settings import bucket_name, function_name, required, table_name
from functions.shared.versions import now_timestamp

CONNECTION_TTL_SECONDS = 2 * 3600
MESSAGE_SCHEMA: dict[str, Any] = {
    **jobs.SUBMISSION_SCHEMA,
    "properties": {**jobs.SUBMISSION_SCHEMA["properties"], "action": {"const": "generateImage"},
                   "idempotencyKey": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,128}$"}},
}

logger = Logger()
metrics = Metrics()
CONNECTIONS = table_name("connections")
STORE = jobs.JobStore(LazyClient("dynamodb"), table_name("jobs"))
SUBMITTER = jobs.Submitter(STORE, LazyClient("s3"), bucket_name("media"), LazyClient("lambda"),
                           function_name("generateImageWorker"), table_name("idempotency"))
PUSHER = Pusher(LazyClient("dynamodb"), CONNECTIONS,
                LazyClient("apigatewaymanagementapi", required(WEBSOCKET_ENDPOINT_ENV)))
OK = {"statusCode": 200}


def connect(event: dict[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    user_id = (context.get("authorizer") or {}).get("userId")
    if not user_id:
        return {"statusCode": 401}
    client("dynamodb").put_item(TableName=CONNECTIONS, Item=to_item({
        "connectionId": context["connectionId"], "userId": user_id, "connectedAt": now_timestamp(),
        "expiresAt": int(time.time()) + CONNECTION_TTL_SECONDS}))
    metrics.add_metric(name="Connections", unit=MetricUnit.Count, value=1)
    return OK


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    client("dynamodb").delete_item(TableName=CONNECTIONS,
                                   Key={"connectionId": {"S": event["requestContext"]["connectionId"]}})
    return OK


def reply_error(connection_id: str, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "error", "error": code, "message": message}
    if field:
        error["field"] = field
    PUSHER.to_connection(connection_id, error)
    return OK


def generate(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    context = event["requestContext"]
    connection_id, user_id = context["connectionId"], (context.get("authorizer") or {}).get("userId")
    if not user_id:
        return reply_error(connection_id, "Unauthorized", "the connection has no user")
    try:
        message = read_json(event.get("body"), bool(event.get("isBase64Encoded")))
        validate(event=message, schema=MESSAGE_SCHEMA)
    except BodyError as error:
        return reply_error(connection_id, "ValidationError", str(error))
    except SchemaValidationError as error:
        return reply_error(connection_id, "ValidationError", *schema_error_details(error))
    key = message.pop("idempotencyKey", None)
    message.pop("action", None)
    try:
        accepted = SUBMITTER.submit(user_id, message, key, lambda_context)
    except Exception as error:
        mapped = jobs.submission_error(error)
        if mapped is None:
            raise
        return reply_error(connection_id, *mapped[1:])
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    PUSHER.to_connection(connection_id, {"type": "job", **accepted})
    return OK


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = event["requestContext"]["routeKey"]
    if route == "$connect":
        return connect(event)
    if route == "$disconnect":
        return disconnect(event)
    if route == "generateImage":
        return generate(event, context)
    return reply_error(event["requestContext"]["connectionId"], "UnknownAction",
                       'send {"action": "generateImage", ...}; no other action exists')
