"""The HTTP side every API handler shares: the Powertools resolver, one JSON error shape, the caller, validation.

Errors are always `{"error": <code>, "message": <what is wrong>, "field"?: <which input>}` with a 4xx for the
caller's mistakes and 5xx for ours; a request that fails validation is rejected before anything is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from functions.manifest import API_PREFIX, LEGACY_ID_CLAIM
from functions.shared.request_body import BodyError, read_json


class ApiError(Exception):
    """An error the caller can act on: HTTP status, a stable code, a message, and the input field at fault."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field


def bad_request(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "ValidationError", message, field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "NotFound", f"{what} not found")


def error_response(status: int, error: str, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if field:
        body["field"] = field
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def make_resolver(logger: Logger) -> APIGatewayHttpResolver:
    """A payload-2.0 resolver serving the manifest's paths (without the `/api/v1` prefix) with the error shape."""
    app = APIGatewayHttpResolver(strip_prefixes=[API_PREFIX])

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.error, error.message, error.field)

    @app.exception_handler(SchemaValidationError)
    def _invalid(error: SchemaValidationError) -> Response:
        return error_response(400, "ValidationError", *schema_error_details(error))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "NotFound", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "InternalError", "the request failed on our side and was logged")

    return app


def schema_error_details(error: SchemaValidationError) -> tuple[str, str | None]:
    """(message, field) of a JSON Schema failure, without the validator's `data.` prefix."""
    name = error.name or ""
    field = name[len("data."):] if name.startswith("data.") else ("" if name == "data" else name)
    return (error.validation_message or "invalid input").replace("data.", "", 1), field or None


@dataclass(frozen=True)
class Caller:
    """The signed-in user, from the claims API Gateway's JWT authorizer verified.

    `user_id` is the legacy id (`custom:userId`, set by the user-migration trigger) for migrated users, so their
    images stay theirs; everyone else is known by the token's `sub`.
    """

    user_id: str
    email: str | None
    username: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "Caller":
        """Only id tokens identify a caller: API Gateway's JWT authorizer also lets access tokens through, but an
        access token has no legacy-id claim, so a migrated user sending one would be a second, empty identity."""
        if claims.get("token_use") != "id":
            raise ApiError(401, "Unauthorized", "send the Cognito id token: access tokens do not carry the user's "
                                                "legacy id, so they are not accepted")
        user_id = claims.get(LEGACY_ID_CLAIM) or claims.get("sub")
        if not user_id:
            raise ApiError(401, "Unauthorized", "the token has no subject")
        return cls(user_id=str(user_id), email=claims.get("email"), username=claims.get("cognito:username"))


def caller(app: APIGatewayHttpResolver) -> Caller:
    return Caller.from_claims(app.current_event.request_context.authorizer.jwt_claim or {})


def json_body(app: APIGatewayHttpResolver, schema: dict[str, Any]) -> dict[str, Any]:
    """The request body read strictly (functions/shared/request_body.py), validated against `schema` (JSON Schema,
    via Powertools' validator)."""
    event = app.current_event
    try:
        body = read_json(event.body, bool(event.is_base64_encoded))
    except BodyError as error:
        raise ApiError(error.status, "ValidationError" if error.status == 400 else "PayloadTooLarge",
                       str(error)) from None
    validate(event=body, schema=schema)
    return body


# Query numbers by a strict grammar: Python's int()/float() also take "1_0", " 10", "+5", "1e3", "inf" and "nan".
INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?")


def query_int(app: APIGatewayHttpResolver, name: str, default: int, low: int, high: int) -> int:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return default
    if not INTEGER.fullmatch(raw):
        raise bad_request(f"{name} must be a plain decimal integer", name)
    value = int(raw)
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}", name)
    return value


def query_float(app: APIGatewayHttpResolver, name: str, low: float, high: float) -> float:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        raise bad_request(f"{name} is required", name)
    if not DECIMAL.fullmatch(raw):
        raise bad_request(f"{name} must be a plain decimal number such as 31.23", name)
    value = float(raw)
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}", name)
    return value
