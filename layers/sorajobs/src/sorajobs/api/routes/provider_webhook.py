"""POST /provider-webhooks/openai: the provider's signed events. No JWT: the Standard Webhooks
signature is the authentication (a bad one answers 401 and changes nothing)."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sorajobs.logic.provider_webhooks import InboundOutcome, ProviderWebhookReceiver
from sorajobs.services import get_services

router = APIGatewayHttpRouter()


class ProviderWebhookAnswer(BaseModel):
    received: bool
    outcome: InboundOutcome


@router.post(
    "/provider-webhooks/openai",
    summary="The provider's video.completed / video.failed webhooks",
    description="Signed per Standard Webhooks. An unknown video is acknowledged (200) so the provider stops retrying.",
)
def receive_provider_webhook() -> ProviderWebhookAnswer:
    event = router.current_event
    raw = event.body or ""
    # The signature covers the exact bytes sent.
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    outcome = ProviderWebhookReceiver(get_services()).receive(body, dict(event.headers))
    return ProviderWebhookAnswer(received=True, outcome=outcome)
