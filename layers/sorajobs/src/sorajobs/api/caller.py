"""The caller's identity from the JWT authorizer's claims."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sorajobs.config import Settings
from sorajobs.logic.queries import Caller
from sorajobs.models.errors import Unauthorized


def _claim_values(raw: object) -> set[str]:
    """A list claim as a set: HTTP API passes arrays as strings like "[admins editors]", and `scope` is
    space-separated."""
    if isinstance(raw, list):
        return {str(item) for item in raw}
    if isinstance(raw, str):
        return {part for part in raw.strip("[]").replace(",", " ").split() if part}
    return set()


def is_admin(claims: dict[str, object], settings: Settings) -> bool:
    """Admin when the token's group claim holds the admin group, or its scope claim the admin scope.

    Groups come from `cognito:groups` (Cognito ID tokens) or `groups`; scopes from `scope` (OAuth 2,
    Cognito access tokens) or `scp` (Okta, Entra ID). Values are compared whole, so `videos/admin2` or
    `videos` is not `videos/admin`.
    """
    groups = _claim_values(claims.get("cognito:groups")) | _claim_values(claims.get("groups"))
    scopes = _claim_values(claims.get("scope")) | _claim_values(claims.get("scp"))
    return bool(settings.admin_group and settings.admin_group in groups) or bool(
        settings.admin_scope and settings.admin_scope in scopes
    )


def caller_of(event: APIGatewayProxyEventV2, settings: Settings) -> Caller:
    """The JWT authorizer's subject; 401 when the request carries none."""
    authorizer = event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("The request carries no authenticated subject.")
    return Caller(owner=subject, is_admin=is_admin(claims, settings))
