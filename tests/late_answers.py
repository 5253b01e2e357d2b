"""A client transport that takes an emulator's late answer as lost at once.

An emulator's `timeout` fault runs the operation and marks its answer with `LATE_ANSWER_HEADER`. Over this
transport the client raises its read timeout on such an answer without waiting for it, exactly as it would once
its timeout ran out: so a seeded run needs no real waiting, and whether a call times out is the fault's choice
alone, never the machine's speed. The SDKs get the same exception their own timeout raises.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx

from local.emulation.faults import LATE_ANSWER_HEADER


class LateAnswersLost:
    """A transport for httpx clients (the fal adapter, the runwayml SDK, output files); with `http=httpx2`, for
    the openai SDK's (httpx2 is its fork of httpx, with the same API)."""

    def __init__(self, http: ModuleType = httpx) -> None:
        self._http = http
        self._inner = http.HTTPTransport()

    def handle_request(self, request: Any) -> Any:
        response = self._inner.handle_request(request)
        if LATE_ANSWER_HEADER in response.headers:
            response.close()
            raise self._http.ReadTimeout("the answer came too late (the emulator's timeout fault)", request=request)
        return response

    def close(self) -> None:
        self._inner.close()
