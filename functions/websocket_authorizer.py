"""REQUEST authorizer of the WebSocket API's `$connect`: browsers cannot set headers on a WebSocket, so the Cognito
JWT comes as `?token=`; it is verified exactly as the HTTP API's JWT authorizer does (functions/shared/tokens.py).
Allowed connections carry the user's id to the `$connect` handler in the authorizer context."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from functions.manifest import USER_POOL_CLIENT_ID_ENV, USER_POOL_ID_ENV
from functions.shared.api import ApiError, Caller
from functions.shared.settings import optional, required
from functions.shared.tokens import InvalidToken, TokenVerifier, issuer_url

logger = Logger()
VERIFIER = TokenVerifier(
    issuer=issuer_url(os.environ.get("AWS_REGION", "us-east-1"), required(USER_POOL_ID_ENV)),
    client_id=required(USER_POOL_CLIENT_ID_ENV),
    jwks_url=optional("COGNITO_JWKS_URL"),  # only the local runtime sets it: its Cognito serves the keys elsewhere
)


def policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
    }
    if context:
        answer["context"] = context
    return answer


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        claims = VERIFIER.verify(token)
    except InvalidToken as error:
        logger.info("connection refused", extra={"reason": str(error)})
        raise Exception("Unauthorized") from None  # API Gateway's convention for 401  # noqa: TRY002
    try:
        user = Caller.from_claims(claims)
    except ApiError as error:
        logger.info("connection refused", extra={"reason": error.message})
        raise Exception("Unauthorized") from None  # noqa: TRY002
    return policy(user.user_id, "Allow", event["methodArn"], {"userId": user.user_id, "email": user.email or ""})
