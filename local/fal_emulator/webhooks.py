"""What fal POSTs to a request's ``fal_webhook`` (https://docs.fal.ai/model-endpoints/webhooks): the body, and the
four signed headers as a `WebhookSigner` for the shared sender, with the scripted ways a delivery can misbehave."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.fal_emulator.scenarios import WebhookFault
from local.fal_emulator.signing import KeySet, SigningKey, signed_message

# Outside the ±5 minutes a receiver accepts.
STALE_BY_SECONDS = 600
PAYLOAD_ERROR = "Failed to serialize the payload: the result is not valid JSON"


@dataclass(frozen=True)
class FalWebhook:
    """One request's notification (an `OutgoingWebhook`): the same body on every attempt, keyed by the request id."""

    request_id: str
    ok: bool
    content: bytes
    fault: WebhookFault | None = None

    @classmethod
    def for_result(
        cls,
        request_id: str,
        ok: bool,
        payload: Any,
        error: str | None,
        *,
        payload_error: bool = False,
        fault: WebhookFault | None = None,
    ) -> FalWebhook:
        """``status`` OK with the model output, or ERROR with ``error`` and the error body as ``payload``;
        a payload that could not be serialized is null, with ``payload_error`` saying why."""
        body: dict[str, Any] = {
            "error": None if ok else error,
            "gateway_request_id": request_id,
            "payload": None if payload_error else payload,
            "request_id": request_id,
            "status": "OK" if ok else "ERROR",
        }
        if payload_error:
            body["payload_error"] = PAYLOAD_ERROR
        # Keys sorted, default separators: the shape of the bodies fal sends.
        return cls(request_id, ok, json.dumps(body, sort_keys=True).encode(), fault)

    @property
    def id(self) -> str:
        return self.request_id

    def body(self) -> bytes:
        return self.content

    def log_fields(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "status": "OK" if self.ok else "ERROR", "fault": self.fault}


@dataclass(frozen=True)
class FalSigner:
    """A `WebhookSigner`: fal's ``X-Fal-Webhook-*`` headers, signed as the request's scripted fault says."""

    keys: KeySet
    user_id: str
    fault: WebhookFault | None = None

    def __call__(self, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        stamped = str(timestamp - (STALE_BY_SECONDS if self.fault == "stale_timestamp" else 0))
        if self.fault == "bad_signature":
            signer = SigningKey.random()  # a key no JWKS publishes
        elif self.fault == "rotated_key":
            signer = self.keys.rotated
        else:
            signer = self.keys.primary
        return {
            "X-Fal-Webhook-Request-Id": message_id,
            "X-Fal-Webhook-User-Id": self.user_id,
            "X-Fal-Webhook-Timestamp": stamped,
            "X-Fal-Webhook-Signature": signer.sign_hex(signed_message(message_id, self.user_id, stamped, body)),
        }
