"""fal's webhook signatures (https://docs.fal.ai/model-endpoints/webhooks), as pure functions.

fal signs ``"{request_id}\\n{user_id}\\n{timestamp}\\n{sha256_hex(body)}"`` with ED25519 and sends the hex signature
in ``X-Fal-Webhook-Signature``, beside ``X-Fal-Webhook-Request-Id``, ``-User-Id`` and ``-Timestamp``. Its public keys
are a JWKS (OKP, Ed25519, base64url ``x``). A delivery older or newer than five minutes is refused. The clock and
the keys are parameters: nothing here reads the time or the network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sorajobs.signing import WEBHOOK_TOLERANCE_SECONDS, WebhookSignatureError

REQUEST_ID_HEADER = "x-fal-webhook-request-id"
USER_ID_HEADER = "x-fal-webhook-user-id"
TIMESTAMP_HEADER = "x-fal-webhook-timestamp"
SIGNATURE_HEADER = "x-fal-webhook-signature"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(r"[0-9a-fA-F]{128}")


def public_keys(jwks: Mapping[str, Any]) -> tuple[Ed25519PublicKey, ...]:
    """The Ed25519 keys of a JWKS document; other keys are skipped."""
    found = []
    for key in jwks.get("keys") or ():
        if not isinstance(key, dict) or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        encoded = str(key.get("x", ""))
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            found.append(Ed25519PublicKey.from_public_bytes(raw))
        except (binascii.Error, ValueError):
            continue
    return tuple(found)


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


@dataclass(frozen=True)
class FalSignedDelivery:
    """A delivery's signature headers, checked for presence, shape and freshness (before any key is fetched)."""

    request_id: str
    user_id: str
    timestamp: str
    signature: bytes

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], *, now: float) -> FalSignedDelivery:
        lowered = {name.lower(): value for name, value in headers.items()}
        request_id, user_id = lowered.get(REQUEST_ID_HEADER), lowered.get(USER_ID_HEADER)
        timestamp, signature = lowered.get(TIMESTAMP_HEADER), lowered.get(SIGNATURE_HEADER)
        if not request_id or not user_id or not timestamp or not signature:
            raise WebhookSignatureError("missing_headers")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise WebhookSignatureError("bad_timestamp")
        if abs(now - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookSignatureError("timestamp_outside_tolerance")
        if not _HEX.fullmatch(signature):
            raise WebhookSignatureError("no_matching_signature")
        return cls(request_id, user_id, timestamp, bytes.fromhex(signature))

    def verify(self, keys: Sequence[Ed25519PublicKey], body: bytes) -> str:
        """The request id, when one of `keys` signed this body; else WebhookSignatureError."""
        message = signed_message(self.request_id, self.user_id, self.timestamp, body)
        for key in keys:
            try:
                key.verify(self.signature, message)
            except InvalidSignature:
                continue
            return self.request_id
        raise WebhookSignatureError("no_matching_signature")
