"""fal's webhook public keys, fetched from its JWKS URL and kept for a day (fal's advice), fetched again early
when a signature matches none of them (a key rotation), at most once every few minutes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sorajobs.clock import Clock
from sorajobs.fal_signing import public_keys
from sorajobs.providers.base import ProviderTemporaryError

KEYS_KEPT = timedelta(hours=24)
# A forged signature must not make every request fetch the keys again.
EARLY_REFETCH_GAP = timedelta(minutes=5)


class FalWebhookKeys:
    def __init__(self, http: httpx.Client, jwks_url: str, clock: Clock) -> None:
        self._http = http
        self._url = jwks_url
        self._clock = clock
        self._keys: tuple[Ed25519PublicKey, ...] = ()
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def current(self) -> tuple[Ed25519PublicKey, ...]:
        with self._lock:
            if self._fetched_at is None or self._clock.now() - self._fetched_at >= KEYS_KEPT:
                self._fetch()
            return self._keys

    def refreshed(self) -> tuple[Ed25519PublicKey, ...] | None:
        """Newly fetched keys after a signature matched none; None when they were fetched moments ago."""
        with self._lock:
            if self._fetched_at is not None and self._clock.now() - self._fetched_at < EARLY_REFETCH_GAP:
                return None
            self._fetch()
            return self._keys

    def _fetch(self) -> None:
        try:
            response = self._http.get(self._url)
            response.raise_for_status()
            keys = public_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderTemporaryError(
                "jwks_unavailable", f"fal's webhook keys could not be fetched: {error}"
            ) from error
        if not keys:
            raise ProviderTemporaryError("jwks_empty", "fal's JWKS holds no Ed25519 key.")
        self._keys, self._fetched_at = keys, self._clock.now()
