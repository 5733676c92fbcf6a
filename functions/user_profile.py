"""GET /api/v1/users/me and PUT /api/v1/users/me.

A user who signs up on the new stack has no item yet: the first request creates it from the token's claims
(conditionally, so two first requests cannot overwrite each other). Updates are validated before anything is
written and stamp the item's version, so reverse sync carries them to the legacy database during cutover.
The legacy password hash and sync bookkeeping are never returned.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.shared.api import Caller, bad_request, caller, json_body, make_resolver
from functions.shared.aws import client, from_item, to_item
from functions.shared.settings import table_name
from functions.shared.versions import millis_timestamp, now_millis, stamp

VISIBLE = ("userId", "email", "username", "displayName", "avatarUrl", "preferences", "location", "createdAt",
           "updatedAt")
LOCATION = {"type": "object",
            "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                           "lon": {"type": "number", "minimum": -180, "maximum": 180},
                           "city": {"type": "string", "maxLength": 120}},
            "required": ["lat", "lon"], "additionalProperties": False}
UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "displayName": {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"\S"},
        "avatarUrl": {"anyOf": [{"type": "string", "maxLength": 2048, "pattern": "^https://[^\\s]+$"},
                                {"type": "null"}]},
        # free-form, but bounded everywhere: keys, each value's strings and lists, and the whole (PREFERENCES_MAX_BYTES)
        "preferences": {"type": "object", "maxProperties": 50, "propertyNames": {"minLength": 1, "maxLength": 64},
                        "additionalProperties": {"$ref": "#/definitions/preference"}},
        "location": {"anyOf": [LOCATION, {"type": "null"}]},
    },
    "minProperties": 1,
    "additionalProperties": False,
    "definitions": {"preference": {"anyOf": [
        {"type": ["number", "boolean", "null"]},
        {"type": "string", "maxLength": 1000},
        {"type": "array", "maxItems": 50, "items": {"$ref": "#/definitions/preference"}},
        {"type": "object", "maxProperties": 50, "propertyNames": {"minLength": 1, "maxLength": 64},
         "additionalProperties": {"$ref": "#/definitions/preference"}}]}},
}
PREFERENCES_MAX_BYTES = 8 * 1024  # as stored (compact JSON, UTF-8): a profile item stays far below DynamoDB's 400 KB

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
TABLE = table_name("users")


def profile(user: Caller) -> dict[str, Any]:
    dynamodb = client("dynamodb")
    found = dynamodb.get_item(TableName=TABLE, Key={"userId": {"S": user.user_id}}, ConsistentRead=True).get("Item")
    if found:
        return from_item(found)
    millis = now_millis()
    item = {"userId": user.user_id, "email": (user.email or "").strip().lower() or None,
            "username": user.username, "createdAt": millis_timestamp(millis), **stamp(millis)}
    try:
        dynamodb.put_item(TableName=TABLE, Item=to_item(item), ConditionExpression="attribute_not_exists(userId)")
        metrics.add_metric(name="ProfilesCreated", unit=MetricUnit.Count, value=1)
        return item
    except dynamodb.exceptions.ConditionalCheckFailedException:  # a concurrent first request won
        return from_item(dynamodb.get_item(TableName=TABLE, Key={"userId": {"S": user.user_id}},
                                           ConsistentRead=True)["Item"])


def visible(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in VISIBLE if key in item}


@app.get("/users/me")
def get_me() -> dict[str, Any]:
    return visible(profile(caller(app)))


@app.put("/users/me")
def update_me() -> dict[str, Any]:
    user = caller(app)
    changes = json_body(app, UPDATE_SCHEMA)
    if "preferences" in changes:
        size = len(json.dumps(changes["preferences"], separators=(",", ":"), ensure_ascii=False).encode())
        if size > PREFERENCES_MAX_BYTES:
            raise bad_request(f"preferences must be at most {PREFERENCES_MAX_BYTES} bytes as JSON (got {size})",
                              "preferences")
    profile(user)
    values = {**changes, **stamp()}
    sets = [f"#{i} = :{i}" for i, key in enumerate(values) if values[key] is not None]
    removes = [f"#{i}" for i, key in enumerate(values) if values[key] is None]
    expression = ("SET " + ", ".join(sets)) + (" REMOVE " + ", ".join(removes) if removes else "")
    updated = client("dynamodb").update_item(
        TableName=TABLE, Key={"userId": {"S": user.user_id}}, UpdateExpression=expression,
        ExpressionAttributeNames={f"#{i}": key for i, key in enumerate(values)},
        ExpressionAttributeValues=to_item({f":{i}": values[key] for i, key in enumerate(values)}),
        ReturnValues="ALL_NEW")
    return visible(from_item(updated["Attributes"]))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
