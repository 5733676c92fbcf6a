"""Cognito's user-pool JSON API for the browser, locally: moto's, with the user-migration trigger Cognito would run.

moto implements InitiateAuth, SignUp, ForgotPassword and the rest, but never runs Lambda triggers. So, as Cognito
does for a pool with a `UserMigration` trigger: a `USER_PASSWORD_AUTH` sign-in (or `ForgotPassword`) of a user the
pool does not know invokes the manifest's trigger function with the `UserMigration_Authentication` (or
`UserMigration_ForgotPassword`) event; if it answers, the user is created from its answer (attributes, CONFIRMED,
the password just typed) and the original call is made again; if it raises, the caller gets what Cognito answers
then, `NotAuthorizedException` / `UserNotFoundException`. Every other call goes to moto unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.exceptions import ClientError
from werkzeug.wrappers import Request, Response

from functions.manifest import FUNCTIONS
from local.cognito import LocalUserPool
from local.lambda_runtime import LambdaRuntime

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
MIGRATION_FUNCTION = next(spec.name for spec in FUNCTIONS if spec.cognito_trigger == "UserMigration")
SDK_VERSION = "aws-sdk-js-3.0.0"


def _error(status: int, kind: str, message: str) -> Response:
    return Response(json.dumps({"__type": kind, "message": message}), status=status,
                    content_type="application/x-amz-json-1.1", headers={"x-amzn-ErrorType": kind})


class CognitoFront:
    """A WSGI app: POST `/` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Action>`, as Cognito takes."""

    def __init__(self, pool: LocalUserPool, runtime: LambdaRuntime) -> None:
        self.pool, self.runtime = pool, runtime
        self.migrations = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        if request.method != "POST" or not target.startswith(TARGET_PREFIX):
            return _error(400, "InvalidAction", "POST a Cognito user-pool action (X-Amz-Target)")
        body, action = request.get_data(), target[len(TARGET_PREFIX):]
        answer = self._forward(target, body)
        if answer.status_code == 400 and self._unknown_user(answer, action):
            try:
                call = json.loads(body)
            except ValueError:
                call = {}
            try:
                migrated = self._migrate(action, call)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "InvalidPasswordException")
                return _error(400, code, error.response.get("Error", {}).get("Message", code))
            if migrated:
                answer = self._forward(target, body)
            elif action == "InitiateAuth":
                return _error(400, "NotAuthorizedException", "Incorrect username or password.")
        return Response(answer.content, status=answer.status_code,
                        content_type=answer.headers.get("Content-Type", "application/x-amz-json-1.1"))

    def _forward(self, target: str, body: bytes) -> requests.Response:
        return requests.post(self.pool.aws.endpoint_url + "/", data=body, timeout=30,
                             headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})

    @staticmethod
    def _unknown_user(answer: requests.Response, action: str) -> bool:
        try:
            kind = str(answer.json().get("__type", "")).split("#")[-1]
        except ValueError:
            return False
        # moto answers an unknown user's ForgotPassword with ResourceNotFoundException
        return kind == "UserNotFoundException" or (action == "ForgotPassword" and kind == "ResourceNotFoundException")

    def _migrate(self, action: str, call: dict[str, Any]) -> bool:
        """Run the trigger for an unknown user; True when it created them."""
        parameters = call.get("AuthParameters") or {}
        if action == "InitiateAuth" and call.get("AuthFlow") == "USER_PASSWORD_AUTH":
            source, user_name, password = ("UserMigration_Authentication", parameters.get("USERNAME"),
                                           parameters.get("PASSWORD"))
        elif action == "ForgotPassword":
            source, user_name, password = "UserMigration_ForgotPassword", call.get("Username"), None
        else:
            return False
        if not isinstance(user_name, str) or not user_name:
            return False
        event = {
            "version": "1", "triggerSource": source, "region": self.pool.aws.region, "userPoolId": self.pool.pool_id,
            "userName": user_name,
            "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": call.get("ClientId")},
            "request": {"password": password, "validationData": None, "userAttributes": None,
                        "clientMetadata": call.get("ClientMetadata") or {}},
            "response": {"userAttributes": None, "finalUserStatus": None, "messageAction": None,
                         "desiredDeliveryMediums": None, "forceAliasCreation": None, "enableSMSMFA": None},
        }
        outcome = self.runtime.invoke(MIGRATION_FUNCTION, event)
        if not outcome.ok or not isinstance(outcome.result, dict):
            return False
        answer = outcome.result.get("response") or {}
        attributes = [{"Name": name, "Value": str(value)}
                      for name, value in (answer.get("userAttributes") or {}).items()]
        cognito = self.pool.aws.client("cognito-idp")
        cognito.admin_create_user(UserPoolId=self.pool.pool_id, Username=user_name, UserAttributes=attributes,
                                  MessageAction="SUPPRESS")
        if password and answer.get("finalUserStatus") == "CONFIRMED":
            try:
                cognito.admin_set_user_password(UserPoolId=self.pool.pool_id, Username=user_name,
                                                Password=password, Permanent=True)
            except cognito.exceptions.InvalidPasswordException:
                # Cognito does not create a user whose legacy password breaks the pool's rule: the sign-in fails
                # and "forgot password" (UserMigration_ForgotPassword) is their way in.
                cognito.admin_delete_user(UserPoolId=self.pool.pool_id, Username=user_name)
                raise
        self.migrations += 1
        return True
