"""POST /provider-webhooks/openai and /provider-webhooks/fal: the providers' signed events. No JWT: the signature
(Standard Webhooks for the OpenAI-compatible gateway, ED25519 for fal) is the authentication; a bad one answers
401 and changes nothing."""

from __future__ import annotations

import base64
from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sorajobs.api.dependencies import WiringDep
from sorajobs.api.routes.common import error_responses
from sorajobs.logic.fal_webhooks import FalWebhookReceiver
from sorajobs.logic.provider_webhooks import InboundOutcome, ProviderWebhookReceiver

router = APIGatewayHttpRouter()


def provider_webhooks(wiring: WiringDep) -> ProviderWebhookReceiver:
    return wiring.provider_webhooks


def fal_webhooks(wiring: WiringDep) -> FalWebhookReceiver:
    return wiring.fal_webhooks


ProviderWebhooksDep = Annotated[ProviderWebhookReceiver, Depends(provider_webhooks)]
FalWebhooksDep = Annotated[FalWebhookReceiver, Depends(fal_webhooks)]


class ProviderWebhookAnswer(BaseModel):
    received: bool
    outcome: InboundOutcome


@router.post(
    "/provider-webhooks/openai",
    summary="The provider's video.completed / video.failed webhooks",
    description="Signed per Standard Webhooks. An unknown video is acknowledged (200) so the provider stops retrying.",
    operation_id="receiveOpenAIWebhook",
    responses={
        200: {"description": "Received; `outcome` says what it changed."},
        **error_responses(400, 401, 413, 500),
    },
)
def receive_provider_webhook(receiver: ProviderWebhooksDep) -> ProviderWebhookAnswer:
    outcome = receiver.receive(_raw_body(), dict(router.current_event.headers))
    return ProviderWebhookAnswer(received=True, outcome=outcome)


@router.post(
    "/provider-webhooks/fal",
    summary="fal's completion webhooks",
    description="Signed with ED25519 against fal's published keys. The query names the job and attempt the create "
    "was for; a request id that is not that attempt's is acknowledged (200) and changes nothing.",
    operation_id="receiveFalWebhook",
    responses={
        200: {"description": "Received; `outcome` says what it changed."},
        **error_responses(400, 401, 413, 422, 500),
    },
)
def receive_fal_webhook(
    receiver: FalWebhooksDep,
    job: Annotated[str | None, Query(max_length=64)] = None,
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> ProviderWebhookAnswer:
    outcome = receiver.receive(_raw_body(), dict(router.current_event.headers), job_id=job, attempt=attempt)
    return ProviderWebhookAnswer(received=True, outcome=outcome)


def _raw_body() -> bytes:
    """The exact bytes sent, which the signature covers."""
    event = router.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
