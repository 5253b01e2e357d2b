"""Output URLs signed like Runway's CDN links (``...mp4?_jwt=<token>``): an HS256 JWT naming the path, with an
``exp`` on the emulator's clock, so a URL stops working when its lifetime passes and a new GET mints a fresh one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Literal

Verdict = Literal["ok", "expired", "invalid"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UrlSigner:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def token(self, path: str, now: float, lifetime_seconds: float) -> str:
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {"path": path, "iat": int(now), "exp": now + lifetime_seconds, "jti": secrets.token_hex(8)}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
        return signing_input + "." + _b64(self._sign(signing_input))

    def verify(self, token: str, path: str, now: float) -> Verdict:
        try:
            header, payload, signature = token.split(".")
            if not hmac.compare_digest(_unb64(signature), self._sign(header + "." + payload)):
                return "invalid"
            claims = json.loads(_unb64(payload))
        except ValueError:
            return "invalid"
        if not isinstance(claims, dict) or claims.get("path") != path:
            return "invalid"
        return "ok" if now < float(claims.get("exp", 0)) else "expired"

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
