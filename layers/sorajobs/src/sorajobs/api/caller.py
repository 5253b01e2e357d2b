"""The caller's identity from the JWT authorizer's claims."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sorajobs.logic.queries import Caller
from sorajobs.models.errors import Unauthorized
from sorajobs.services import get_services


def _groups(raw: object) -> set[str]:
    # HTTP API passes array claims as strings like "[admins editors]".
    if isinstance(raw, list):
        return {str(group) for group in raw}
    if isinstance(raw, str):
        return {part for part in raw.strip("[]").replace(",", " ").split() if part}
    return set()


def current_caller(router: BaseRouter) -> Caller:
    event = cast(APIGatewayProxyEventV2, router.current_event)
    authorizer = event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("The request carries no authenticated subject.")
    groups = _groups(claims.get("cognito:groups")) | _groups(claims.get("groups"))
    return Caller(owner=subject, is_admin=get_services().settings.admin_group in groups)
