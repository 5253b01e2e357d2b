"""boto3 clients whose calls take one lock: in-process moto (`mock_aws`) is not thread-safe, real AWS is.

Tests and benchmarks hand a `SerializedSession` to `sorajobs.services.Services` so the sweep's worker
threads can share in-process moto.
"""

from __future__ import annotations

import threading
from typing import Any


class _SerializedClient:
    def __init__(self, client: Any, lock: threading.RLock) -> None:
        self._client = client
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


class SerializedSession:
    """Hands out clients of `session` that share one lock."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.lock = threading.RLock()  # held by every call of every client; take it to read moto's state

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return _SerializedClient(self._session.client(*args, **kwargs), self.lock)
