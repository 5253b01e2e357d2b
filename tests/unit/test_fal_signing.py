"""fal webhook signatures: ED25519 over request id, user id, timestamp and the body's SHA-256, with fal's JWKS."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sorajobs.fal_signing import FalSignedDelivery, public_keys
from sorajobs.signing import WebhookSignatureError

NOW = 1_800_000_000


def verify_fal_webhook(keys, *, body, headers, now):
    """The receiver's two steps: the headers' shape and freshness, then the keys."""
    return FalSignedDelivery.from_headers(headers, now=now).verify(keys, body)


BODY = b'{"request_id": "req-1", "status": "OK", "payload": {}}'


def _jwk(private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def _headers(private: Ed25519PrivateKey, *, body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    # Built here from fal's documented recipe, not with the code under test.
    message = f"req-1\nuser-9\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()
    return {
        "X-Fal-Webhook-Request-Id": "req-1",
        "X-Fal-Webhook-User-Id": "user-9",
        "X-Fal-Webhook-Timestamp": str(timestamp),
        "X-Fal-Webhook-Signature": private.sign(message).hex(),
    }


@pytest.fixture
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_delivery_signed_by_a_published_key_is_accepted(signer):
    keys = public_keys({"keys": [_jwk(Ed25519PrivateKey.generate()), _jwk(signer)]})

    assert verify_fal_webhook(keys, body=BODY, headers=_headers(signer), now=NOW + 10) == "req-1"


def test_a_changed_body_is_refused(signer):
    keys = public_keys({"keys": [_jwk(signer)]})

    with pytest.raises(WebhookSignatureError) as refused:
        verify_fal_webhook(keys, body=BODY + b" ", headers=_headers(signer), now=NOW)
    assert refused.value.reason == "no_matching_signature"


def test_a_key_fal_does_not_publish_is_refused(signer):
    keys = public_keys({"keys": [_jwk(Ed25519PrivateKey.generate())]})

    with pytest.raises(WebhookSignatureError, match="no_matching_signature"):
        verify_fal_webhook(keys, body=BODY, headers=_headers(signer), now=NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_delivery_outside_the_five_minute_window_is_refused(signer, skew):
    keys = public_keys({"keys": [_jwk(signer)]})

    with pytest.raises(WebhookSignatureError) as refused:
        verify_fal_webhook(keys, body=BODY, headers=_headers(signer), now=NOW + skew)
    assert refused.value.reason == "timestamp_outside_tolerance"


@pytest.mark.parametrize("missing", ["X-Fal-Webhook-Request-Id", "X-Fal-Webhook-Signature", "X-Fal-Webhook-Timestamp"])
def test_a_delivery_without_its_headers_is_refused(signer, missing):
    headers = _headers(signer)
    del headers[missing]

    with pytest.raises(WebhookSignatureError, match="missing_headers"):
        verify_fal_webhook(public_keys({"keys": [_jwk(signer)]}), body=BODY, headers=headers, now=NOW)


def test_keys_that_are_not_ed25519_are_skipped(signer):
    rsa, broken = {"kty": "RSA", "n": "abc", "e": "AQAB"}, {"kty": "OKP", "crv": "Ed25519", "x": "!!"}
    jwks = {"keys": [rsa, broken, _jwk(signer)]}

    assert len(public_keys(jwks)) == 1
