"""Standard Webhooks signing and verification (https://www.standardwebhooks.com), as pure functions.

A message is signed as HMAC-SHA256 over ``b"{webhook-id}.{webhook-timestamp}." + body`` and sent in three
headers. The clock is a parameter: nothing here reads the real time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

WEBHOOK_TOLERANCE_SECONDS = 300

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"

WHSEC_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# One stored value holds the current secret and, during a rotation, the previous one.
MAX_SECRETS = 2

SignatureFailure = Literal["missing_headers", "bad_timestamp", "timestamp_outside_tolerance", "no_matching_signature"]

_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class WebhookSignatureError(Exception):
    """A webhook failed verification; ``reason`` is a short machine code, never to be matched by message."""

    def __init__(self, reason: SignatureFailure) -> None:
        super().__init__(f"webhook signature verification failed: {reason}")
        self.reason: SignatureFailure = reason


@dataclass(frozen=True)
class WebhookSecret:
    """The raw HMAC key of one webhook secret (kept out of repr so it never reaches a log)."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a webhook secret must not be empty")

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        """Read ``whsec_<base64>`` (padding optional), or any other value as the UTF-8 bytes of the key.

        The second form exists because Secrets Manager's GenerateSecretString cannot add a prefix.
        """
        if not text:
            raise ValueError("a webhook secret must not be empty")
        if any(char.isspace() for char in text):
            raise ValueError("a webhook secret must not contain whitespace")
        if not text.startswith(WHSEC_PREFIX):
            return cls(text.encode("utf-8"))
        encoded = text.removeprefix(WHSEC_PREFIX).rstrip("=")
        if not encoded:
            raise ValueError("a webhook secret must not be empty")
        try:
            # Stricter than the reference library, which drops non-base64 characters and so hides typos.
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as error:
            raise ValueError("a whsec_ webhook secret must be base64 after the prefix") from error
        return cls(key)

    def as_whsec(self) -> str:
        """The form a receiver configures in any Standard Webhooks library."""
        return WHSEC_PREFIX + base64.b64encode(self.key).decode("ascii")


def parse_webhook_secrets(value: str) -> tuple[WebhookSecret, ...]:
    """Read the stored secret value: one secret, or two separated by whitespace (newest first) during a rotation."""
    parts = value.split()
    if not parts:
        raise ValueError("the webhook secret value holds no secret")
    if len(parts) > MAX_SECRETS:
        raise ValueError(
            f"the webhook secret value holds {len(parts)} secrets; at most {MAX_SECRETS} "
            "(the new one first, then the old one during a rotation) are allowed"
        )
    return tuple(WebhookSecret.parse(part) for part in parts)


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _digest(secret: WebhookSecret, content: bytes) -> bytes:
    return hmac.new(secret.key, content, hashlib.sha256).digest()


def sign(secrets: Sequence[WebhookSecret], *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, with one ``v1`` signature per secret in the given order."""
    if not secrets:
        raise ValueError("signing needs at least one webhook secret")
    if not msg_id or any(char.isspace() or not char.isprintable() for char in msg_id):
        raise ValueError("a webhook id must be non-empty, without whitespace or control characters")
    if timestamp < 0:
        raise ValueError("a webhook timestamp must be a non-negative number of unix seconds")
    content = _signed_content(msg_id, str(timestamp), body)
    signatures = " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_digest(secret, content)).decode('ascii')}" for secret in secrets
    )
    return {
        WEBHOOK_ID_HEADER: msg_id,
        WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
        WEBHOOK_SIGNATURE_HEADER: signatures,
    }


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a header; other versions and malformed entries are skipped."""
    found: list[bytes] = []
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION or not comma:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(secrets: Sequence[WebhookSecret], *, body: bytes, headers: Mapping[str, str], now: float) -> str:
    """Check a received webhook against any of ``secrets`` and return its ``webhook-id``.

    ``now`` is the caller's clock in unix seconds. Raises WebhookSignatureError.
    """
    if not secrets:
        raise ValueError("verification needs at least one webhook secret")
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(WEBHOOK_ID_HEADER)
    timestamp = lowered.get(WEBHOOK_TIMESTAMP_HEADER)
    signature_header = lowered.get(WEBHOOK_SIGNATURE_HEADER)
    if not msg_id or not timestamp or not signature_header:
        raise WebhookSignatureError("missing_headers")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookSignatureError("bad_timestamp")
    if abs(now - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookSignatureError("timestamp_outside_tolerance")

    content = _signed_content(msg_id, timestamp, body)
    expected = [_digest(secret, content) for secret in secrets]
    for candidate in _v1_signatures(signature_header):
        if any(hmac.compare_digest(candidate, digest) for digest in expected):
            return msg_id
    raise WebhookSignatureError("no_matching_signature")
