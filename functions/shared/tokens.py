"""Cognito JWT verification, as API Gateway's JWT authorizer does it: signature against the pool's JWKS, issuer,
audience (`aud` of an id token, `client_id` of an access token), expiry and `token_use`.

Used by the WebSocket `$connect` authorizer (API Gateway has no JWT authorizer for WebSocket APIs) and by the local
gateway, which must check HTTP tokens exactly like the deployed authorizer. PyJWT's JWKS client caches the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

TOKEN_USES = ("id", "access")
LEEWAY_SECONDS = 5


class InvalidToken(Exception):
    """Why a token was refused (for logs; callers answer a plain 401/Unauthorized)."""


def issuer_url(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


@dataclass
class TokenVerifier:
    issuer: str
    client_id: str
    jwks_url: str | None = None  # the pool's `<issuer>/.well-known/jwks.json` unless a local endpoint serves it
    _jwks: jwt.PyJWKClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._jwks = jwt.PyJWKClient(self.jwks_url or f"{self.issuer}/.well-known/jwks.json",
                                     cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, token: str | None) -> dict[str, Any]:
        """The token's claims, or InvalidToken saying what is wrong with it."""
        if not token:
            raise InvalidToken("no token")
        if token.lower().startswith("bearer "):
            token = token[len("bearer "):].strip()
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False})
        except jwt.PyJWKClientConnectionError as error:
            raise InvalidToken(f"cannot fetch the signing keys: {error}") from None
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from None
        use = claims.get("token_use")
        if use not in TOKEN_USES:
            raise InvalidToken(f"token_use must be id or access, not {use!r}")
        audience = claims.get("aud") if use == "id" else claims.get("client_id")
        if audience != self.client_id:
            raise InvalidToken("the token was issued to another app client")
        return claims
