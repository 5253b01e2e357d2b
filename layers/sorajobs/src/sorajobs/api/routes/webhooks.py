"""The job's webhook delivery log, and replays: GET /videos/{id}/webhooks, POST /videos/{id}/webhooks/replay."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, WiringDep
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses
from sorajobs.logic.webhook_log import WebhookLog
from sorajobs.models.webhooks import (
    ReplayWebhookRequest,
    ReplayWebhookResponse,
    WebhookDeliveryListResponse,
    WebhookDeliveryResponse,
)

router = APIGatewayHttpRouter()


def webhook_log(wiring: WiringDep) -> WebhookLog:
    return wiring.webhook_log


WebhookLogDep = Annotated[WebhookLog, Depends(webhook_log)]


@router.get(
    "/videos/<id>/webhooks",
    summary="List the job's webhook deliveries, newest event first",
    description="One entry per event and destination, with every attempt: status code, duration and next retry.",
    operation_id="listWebhookDeliveries",
    security=BEARER_JWT,
    responses={200: {"description": "A page of the delivery log."}, **error_responses(400, 401, 404, 422, 500)},
)
def list_webhook_deliveries(
    id: JobIdPath,
    caller: CallerDep,
    log: WebhookLogDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page.")] = None,
) -> WebhookDeliveryListResponse:
    page = log.deliveries(caller, id, limit=limit, cursor=cursor)
    return WebhookDeliveryListResponse(
        data=[WebhookDeliveryResponse.from_delivery(delivery) for delivery in page.deliveries],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/videos/<id>/webhooks/replay",
    summary="Send a webhook event again",
    description=(
        "Re-sends the event (the latest by default) to each of its destinations with the same `webhook-id`, "
        "through a fresh run of the retry schedule. Answers 202; follow it in the delivery log."
    ),
    operation_id="replayWebhook",
    security=BEARER_JWT,
    responses={
        202: {"description": "The event is queued again."},
        **error_responses(400, 401, 404, 409, 413, 415, 422, 500),
    },
)
def replay_webhook(
    id: JobIdPath,
    caller: CallerDep,
    log: WebhookLogDep,
    request: Annotated[ReplayWebhookRequest, Body()] = ReplayWebhookRequest(),  # noqa: B008 - an immutable default
) -> Response[ReplayWebhookResponse]:
    event_id, deliveries = log.replay(caller, id, request.event_id)
    body = ReplayWebhookResponse(
        event_id=event_id, deliveries=[WebhookDeliveryResponse.from_delivery(delivery) for delivery in deliveries]
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)
