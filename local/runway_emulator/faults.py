"""The Runway emulator's operations, for the shared fault injection of `local.emulation.faults`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from local.emulation import faults

# create: POST /v1/text_to_video and /v1/image_to_video; retrieve: GET /v1/tasks/{id}; cancel: DELETE /v1/tasks/{id};
# download: GET of a signed output URL; organization: GET /v1/organization.
OPERATIONS: tuple[str, ...] = ("create", "retrieve", "cancel", "download", "organization", "any")


@dataclass(frozen=True)
class Fault(faults.Fault):
    """An injected fault on one of the Runway API's operations (see `local.emulation.faults.Fault`);
    http_error answers ``{"error": message}`` (``code`` and ``error_type`` are not part of Runway's body)."""

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
