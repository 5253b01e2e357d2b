"""boto3 clients whose calls take one lock: in-process moto (`mock_aws`) is not thread-safe, real AWS is.

Tests and benchmarks hand a `SerializedSession` to `sorajobs.services.Services` so the sweep's worker
threads can share in-process moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def _nothing() -> None:
    return None


class _SerializedClient:
    def __init__(self, client: Any, lock: threading.RLock, before_call: Callable[[], None]) -> None:
        self._client = client
        self._lock = lock
        self._before_call = before_call

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            self._before_call()
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


class SerializedSession:
    """Hands out clients of `session` that share one lock.

    `before_call` runs before each call takes the lock: the chaos suite's seeded interleaving switches
    tasks there, so that every AWS call is a point where another invocation may run.
    """

    def __init__(self, session: Any, *, before_call: Callable[[], None] = _nothing) -> None:
        self._session = session
        self._before_call = before_call
        self.lock = threading.RLock()  # held by every call of every client; take it to read moto's state

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return _SerializedClient(self._session.client(*args, **kwargs), self.lock, self._before_call)
