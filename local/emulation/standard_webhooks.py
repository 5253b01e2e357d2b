"""Standard Webhooks signing (https://www.standardwebhooks.com), as OpenAI signs its webhooks: a ``whsec_`` secret,
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` headers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from local.emulation.webhooks import WebhookTarget

WHSEC_PREFIX = "whsec_"


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ``whsec_<base64>``; ValueError if it is not one."""
    if not secret.startswith(WHSEC_PREFIX):
        raise ValueError(f"a webhook secret looks like '{WHSEC_PREFIX}<base64 key>'")
    encoded = secret[len(WHSEC_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("the part of the webhook secret after 'whsec_' is not base64") from None
    if not key:
        raise ValueError("the webhook secret's key is empty")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class StandardWebhooksSigner:
    """A `WebhookSigner` holding the HMAC key of a ``whsec_`` secret."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> StandardWebhooksSigner:
        return cls(decode_secret(secret))

    def __call__(self, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.key, message_id, timestamp, body),
        }


def standard_webhooks_target(url: str | None, secret: str | None) -> WebhookTarget | None:
    """A target signed with a ``whsec_`` secret when both are set; None (webhooks off) when either is missing.
    ValueError if the URL or the secret is invalid."""
    if url is None or secret is None:
        return None
    return WebhookTarget(url, StandardWebhooksSigner.from_secret(secret))
