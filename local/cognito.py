"""A user pool in the local AWS endpoint shaped like the deployed one (email as user name, the legacy-id custom
attribute readable but not writable by the app client), users in it, and their tokens.

moto signs tokens with its own RSA key and serves the pool's JWKS at `<endpoint>/<pool id>/.well-known/jwks.json`,
so tokens are verified locally exactly as in AWS; only the JWKS address differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.manifest import LEGACY_ID_ATTRIBUTE, LEGACY_ID_CLAIM
from functions.shared.tokens import issuer_url
from functions.site_spec import PASSWORD_POLICY
from local.aws import LocalAws


@dataclass(frozen=True)
class LocalUserPool:
    aws: LocalAws
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return issuer_url(self.aws.region, self.pool_id)

    @property
    def jwks_url(self) -> str:
        return f"{self.aws.endpoint_url}/{self.pool_id}/.well-known/jwks.json"

    def create_user(self, email: str, password: str, legacy_id: str | None = None) -> None:
        cognito = self.aws.client("cognito-idp")
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        if legacy_id:
            attributes.append({"Name": LEGACY_ID_CLAIM, "Value": legacy_id})
        cognito.admin_create_user(UserPoolId=self.pool_id, Username=email, UserAttributes=attributes,
                                  MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=self.pool_id, Username=email, Password=password, Permanent=True)

    def sign_in(self, email: str, password: str) -> dict[str, str]:
        """`IdToken`, `AccessToken`, `RefreshToken` (the API takes the id token, as the web client sends it)."""
        result = self.aws.client("cognito-idp").initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password})
        return result["AuthenticationResult"]


def create_user_pool(aws: LocalAws) -> LocalUserPool:
    cognito = aws.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName=f"mumble-{aws.stage}", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": {
            "MinimumLength": PASSWORD_POLICY.minimum_length,
            "RequireUppercase": PASSWORD_POLICY.require_uppercase,
            "RequireLowercase": PASSWORD_POLICY.require_lowercase,
            "RequireNumbers": PASSWORD_POLICY.require_numbers,
            "RequireSymbols": PASSWORD_POLICY.require_symbols}},
        Schema=[{"Name": LEGACY_ID_ATTRIBUTE, "AttributeDataType": "String", "Mutable": False,
                 "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}])["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=f"mumble-{aws.stage}-web", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", LEGACY_ID_CLAIM], WriteAttributes=["email"])["UserPoolClient"]
    return LocalUserPool(aws, pool["Id"], client["ClientId"])
