"""Cognito user-migration trigger: a legacy user signs in once with their old password and becomes a Cognito user.

`UserMigration_Authentication`: the user is looked up by email (EmailIndex), the legacy bcrypt hash is checked,
and Cognito gets their attributes (email verified, their legacy id as `custom:userId` so their images stay theirs),
status CONFIRMED and no welcome message. The hash is then removed from the item: Cognito owns the password now.
`UserMigration_ForgotPassword`: the same lookup without a password, so a legacy user can reset theirs.
Anything else (unknown user, wrong password) raises, which Cognito turns into a failed sign-in; nothing changes.
"""

from __future__ import annotations

from typing import Any

import bcrypt
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.manifest import LEGACY_ID_CLAIM
from functions.shared.aws import client, from_item, to_item
from functions.shared.settings import table_name
from functions.shared.versions import stamp

logger = Logger()
metrics = Metrics()
USERS = table_name("users")


class MigrationRefused(Exception):
    """Cognito shows the sign-in as failed; the message is only logged."""


def find_by_email(email: str) -> dict[str, Any] | None:
    page = client("dynamodb").query(TableName=USERS, IndexName="EmailIndex", KeyConditionExpression="email = :e",
                                    ExpressionAttributeValues={":e": {"S": email.strip().lower()}}, Limit=2)
    items = page.get("Items", [])
    if len(items) > 1:
        raise MigrationRefused("more than one legacy user has this email; resolve it before they can sign in")
    return from_item(items[0]) if items else None


def password_matches(password: str, password_hash: Any) -> bool:
    if not isinstance(password_hash, str) or not password or not password_hash.startswith("$2"):
        return False
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def drop_legacy_hash(user: dict[str, Any]) -> None:
    """Remove the hash only if it is still the one we checked, stamping the change for reverse sync."""
    values = stamp()
    dynamodb = client("dynamodb")
    try:
        dynamodb.update_item(
            TableName=USERS, Key={"userId": {"S": user["userId"]}},
            UpdateExpression="REMOVE passwordHash SET " + ", ".join(f"#{i} = :{i}" for i in range(len(values))),
            ConditionExpression="passwordHash = :hash",
            ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(values)},
            ExpressionAttributeValues={":hash": {"S": user["passwordHash"]},
                                       **to_item({f":{i}": v for i, v in enumerate(values.values())})})
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass  # already dropped by a concurrent sign-in


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    source = event.get("triggerSource")
    if source not in ("UserMigration_Authentication", "UserMigration_ForgotPassword"):
        raise MigrationRefused(f"unexpected trigger {source!r}")
    user = find_by_email(event.get("userName") or "")
    if user is None or not user.get("email"):
        metrics.add_metric(name="MigrationUnknownUser", unit=MetricUnit.Count, value=1)
        raise MigrationRefused("User does not exist")
    if source == "UserMigration_Authentication":
        if not password_matches((event.get("request") or {}).get("password") or "", user.get("passwordHash")):
            metrics.add_metric(name="MigrationWrongPassword", unit=MetricUnit.Count, value=1)
            raise MigrationRefused("Bad password")
        event["response"] = {"finalUserStatus": "CONFIRMED"}
    else:
        event["response"] = {}
    event["response"].update({
        "messageAction": "SUPPRESS",
        "userAttributes": {"email": user["email"], "email_verified": "true", LEGACY_ID_CLAIM: user["userId"]},
    })
    if "passwordHash" in user:
        drop_legacy_hash(user)
    metrics.add_metric(name="UsersMigrated", unit=MetricUnit.Count, value=1)
    logger.info("legacy user migrated", extra={"userId": user["userId"], "trigger": source})
    return event
