"""Checking a webhook this backend sent (Standard Webhooks: HMAC-SHA256 over `id.timestamp.body`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from sorajobs_client.errors import WebhookVerificationError
from sorajobs_client.models import WebhookEvent

DEFAULT_TOLERANCE_SECONDS = 300


def verify_webhook(
    secret: str | Iterable[str],
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """The event, if one of its `webhook-signature` values is the HMAC of the raw body with a secret
    (`whsec_<base64>`; several, or space-separated, during a rotation) and its timestamp is within
    `tolerance_seconds` of now; else WebhookVerificationError. Pass the body exactly as received.

    A receiver still drops an event whose `sequence` is not above the last it applied for `data.id`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id, timestamp, signatures = (lowered.get(name) for name in _HEADERS)
    if not webhook_id or not timestamp or not signatures:
        raise WebhookVerificationError(f"Missing webhook headers: needs {', '.join(_HEADERS)}.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not unix seconds.") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance_seconds} s from now.")
    raw = body.encode() if isinstance(body, str) else body
    signed = f"{webhook_id}.{sent_at}.".encode() + raw
    expected = [_signature(key, signed) for key in _keys(secret)]
    offered = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in offered):
        raise WebhookVerificationError("No webhook-signature matches the secret.")
    try:
        return WebhookEvent.model_validate_json(raw)
    except ValidationError as error:
        raise WebhookVerificationError(f"The signed body is not a webhook event: {error.errors()[0]['msg']}") from None


_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _keys(secret: str | Iterable[str]) -> list[bytes]:
    values = secret.split() if isinstance(secret, str) else list(secret)
    keys = []
    for value in values:
        try:
            keys.append(base64.b64decode(value.removeprefix("whsec_"), validate=True))
        except binascii.Error:
            raise WebhookVerificationError("The secret is not whsec_ followed by base64.") from None
    if not keys:
        raise WebhookVerificationError("No secret given.")
    return keys


def _signature(key: bytes, signed: bytes) -> str:
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
