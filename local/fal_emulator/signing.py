"""fal's webhook signature (https://docs.fal.ai/model-endpoints/webhooks, "Verifying Your Webhook").

The signed message is four lines joined by ``\\n`` and UTF-8 encoded: the request id, the user id, the
timestamp (unix seconds, as sent in ``X-Fal-Webhook-Timestamp``) and the SHA-256 hex digest of the raw body.
fal signs it with ED25519 and sends the signature hex-encoded in ``X-Fal-Webhook-Signature``; receivers
verify it with any of the public keys of fal's JWKS (OKP / Ed25519, ``x`` in base64url without padding).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# What fal's docs name as the JWKS; the emulator serves its own at the same path.
JWKS_PATH = "/.well-known/jwks.json"


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


@dataclass(frozen=True)
class SigningKey:
    """One ED25519 key of the emulator, derived from a seed so a seeded run signs the same every time."""

    private: Ed25519PrivateKey

    @classmethod
    def derived(cls, seed: int, index: int) -> SigningKey:
        material = hashlib.sha256(f"fal-emulator-webhook-key:{seed}:{index}".encode()).digest()
        return cls(Ed25519PrivateKey.from_private_bytes(material))

    @classmethod
    def random(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def jwk(self) -> dict[str, str]:
        x = base64.urlsafe_b64encode(self.public_bytes()).rstrip(b"=").decode("ascii")
        return {"kty": "OKP", "crv": "Ed25519", "x": x}

    def sign_hex(self, message: bytes) -> str:
        return self.private.sign(message).hex()


class KeySet:
    """The keys the JWKS publishes: the first signs; the second is published too, for rotation tests
    (a receiver must accept a signature by any published key)."""

    def __init__(self, seed: int, count: int = 2) -> None:
        if count < 2:
            raise ValueError("the key set needs a second key for rotation")
        self.keys = [SigningKey.derived(seed, index) for index in range(count)]

    @property
    def primary(self) -> SigningKey:
        return self.keys[0]

    @property
    def rotated(self) -> SigningKey:
        return self.keys[1]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.jwk() for key in self.keys]}
