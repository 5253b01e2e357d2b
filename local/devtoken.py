"""HS256 development tokens: what the local gateway checks in place of the HTTP API's JWT authorizer.

The secret comes from LOCAL_JWT_SECRET (a fixed development string by default); it never signs anything
a deployed stack would accept, since that one trusts only its OIDC issuer.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

DEFAULT_SECRET = "sora-jobs-local-development-secret-not-for-production"  # noqa: S105 - a public dev value
ISSUER = "https://sora-jobs.local/dev-issuer"
AUDIENCE = "sora-jobs-local"
DEFAULT_TTL_SECONDS = 12 * 3600
ALGORITHM = "HS256"


class InvalidDevToken(Exception):
    """The bearer token is missing, malformed, badly signed, expired or meant for someone else."""


class MissingDevToken(InvalidDevToken):
    """No bearer token at all."""


class ExpiredDevToken(InvalidDevToken):
    """A token that was valid until `expired_at` (unix seconds)."""

    def __init__(self, expired_at: int) -> None:
        super().__init__("the token has expired")
        self.expired_at = expired_at


@dataclass(frozen=True)
class DevTokens:
    secret: str = DEFAULT_SECRET
    issuer: str = ISSUER
    audience: str = AUDIENCE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DevTokens:
        environ = os.environ if environ is None else environ
        return cls(secret=environ.get("LOCAL_JWT_SECRET") or DEFAULT_SECRET)

    def mint(
        self,
        sub: str,
        groups: Iterable[str] = (),
        *,
        expires_in: float = DEFAULT_TTL_SECONDS,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token; a negative `expires_in` gives one that has already expired."""
        now = int(time.time())
        expires = now + int(expires_in)
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": min(now, expires - 60),
            "exp": expires,
            "token_use": "id",
        }
        if groups := list(groups):
            claims["cognito:groups"] = groups
        claims.update(extra_claims or {})
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The claims of an `Authorization` header value ("Bearer <jwt>", or the bare jwt as API Gateway allows)."""
        if not authorization or not authorization.strip():
            raise MissingDevToken("no token")
        token = authorization.strip()
        scheme, _, rest = token.partition(" ")
        if scheme.lower() == "bearer":
            token = rest.strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            expired_at = jwt.decode(token, options={"verify_signature": False}).get("exp")
            raise ExpiredDevToken(int(expired_at)) from error
        except jwt.PyJWTError as error:
            raise InvalidDevToken(str(error)) from error
        return claims


def authorizer_claim_value(value: Any) -> str:
    """A claim as HTTP API hands it to the function: always a string, arrays as "[a b]"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(authorizer_claim_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def authorizer_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    return {name: authorizer_claim_value(value) for name, value in claims.items()}
