"""Cognito: the user pool people sign in with, the SPA's app client, and the legacy user-migration trigger.

Email is the user name; legacy users are moved on their first sign-in by the user-migration Lambda, which needs
the `USER_PASSWORD_AUTH` flow for that first sign-in (SRP afterwards) and sets their legacy id as `custom:userId`
(the API's user id when present, else `sub`). The SPA client has no secret.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.function import AppFunction
from functions.manifest import LEGACY_ID_ATTRIBUTE, LEGACY_ID_CLAIM
from functions.site_spec import PASSWORD_POLICY

TOKEN_VALIDITY_HOURS = 1
REFRESH_VALIDITY_DAYS = 30


class Auth(pulumi.ComponentResource):
    """`pool`, `client`, `issuer` (the JWT `iss`), `pool_id`, `client_id`."""

    def __init__(self, name: str, config: StageConfig, user_migration: AppFunction | None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:auth:Auth", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=config.protectResources,
                                          retain_on_delete=config.protectResources)
        self.pool = aws.cognito.UserPool(
            name, name=f"mumble-{config.stage}",
            username_attributes=["email"], auto_verified_attributes=["email"],
            username_configuration={"case_sensitive": False},
            password_policy={"minimum_length": PASSWORD_POLICY.minimum_length,
                             "require_lowercase": PASSWORD_POLICY.require_lowercase,
                             "require_uppercase": PASSWORD_POLICY.require_uppercase,
                             "require_numbers": PASSWORD_POLICY.require_numbers,
                             "require_symbols": PASSWORD_POLICY.require_symbols,
                             "temporary_password_validity_days": 3},
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            admin_create_user_config={"allow_admin_create_user_only": False},
            deletion_protection="ACTIVE" if config.deletionProtection else "INACTIVE",
            mfa_configuration="OPTIONAL", software_token_mfa_configuration={"enabled": True},
            lambda_config={"user_migration": user_migration.arn} if user_migration else None,
            schemas=[{"name": LEGACY_ID_ATTRIBUTE, "attribute_data_type": "String", "mutable": False,
                      "developer_only_attribute": False,
                      "string_attribute_constraints": {"min_length": "1", "max_length": "64"}}],
            opts=stateful)
        self.client = aws.cognito.UserPoolClient(
            name, name=f"mumble-{config.stage}-web", user_pool_id=self.pool.id, generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            # the legacy id is readable (it is in the id token) but only the migration trigger sets it: a user
            # who could write it at sign-up could claim another user's images
            read_attributes=["email", "email_verified", LEGACY_ID_CLAIM], write_attributes=["email"],
            enable_token_revocation=True,
            access_token_validity=TOKEN_VALIDITY_HOURS, id_token_validity=TOKEN_VALIDITY_HOURS,
            refresh_token_validity=REFRESH_VALIDITY_DAYS,
            token_validity_units={"access_token": "hours", "id_token": "hours", "refresh_token": "days"},
            opts=child)
        if user_migration:
            user_migration.allow_invoke(f"{name}-user-migration", "cognito-idp.amazonaws.com", self.pool.arn)
        self.pool_id = self.pool.id
        self.client_id = self.client.id
        self.issuer = self.pool.id.apply(lambda pool_id: f"https://cognito-idp.{config.region}.amazonaws.com/{pool_id}")
        self.register_outputs({"poolId": self.pool_id, "clientId": self.client_id})
