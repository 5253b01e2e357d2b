"""The fal emulator's operations, for the shared fault injection of `local.emulation.faults`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from local.emulation import faults

OPERATIONS: tuple[str, ...] = ("submit", "status", "result", "cancel", "download", "jwks", "any")


@dataclass(frozen=True)
class Fault(faults.Fault):
    """An injected fault on one of the queue's operations, a file download or the JWKS (see
    `local.emulation.faults.Fault`). An http_error answers fal's request-error body (``detail``, ``error_type``
    and ``X-Fal-Error-Type``); ``error_type="ingress"`` answers an nginx page without ``x-fal-request-id``,
    the answer fal's client treats as a gateway error it may retry."""

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
