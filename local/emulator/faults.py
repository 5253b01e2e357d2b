"""The OpenAI emulator's operations, for the shared fault injection of `local.emulation.faults`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from local.emulation import faults

OPERATIONS: tuple[str, ...] = ("create", "retrieve", "list", "delete", "download", "remix", "any")


@dataclass(frozen=True)
class Fault(faults.Fault):
    """An injected fault on one of the Videos API's operations (see `local.emulation.faults.Fault`);
    http_error answers with the OpenAI error envelope."""

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
