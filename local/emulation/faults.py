"""Injected faults: HTTP errors, slow or lost responses, and connections cut mid-body.

Each emulator names its own operations: it subclasses `Fault` with its ``OPERATIONS`` and gives the same names to
its `FaultBook`, so a fault for an operation the provider does not have is refused when it is built.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from local.emulation.controls import from_control_json

FaultKind = Literal["http_error", "timeout", "reset", "latency"]
FAULT_KINDS: tuple[str, ...] = ("http_error", "timeout", "reset", "latency")
ANY_OPERATION = "any"
# Marks the answer of a `timeout` fault, so that a test's client transport can treat the answer as lost at once
# (and a seeded run need not wait in real time, nor depend on the machine's speed to tell late from on time).
LATE_ANSWER_HEADER = "X-Emulator-Late-Answer"


def check_operation(operation: str, operations: tuple[str, ...]) -> None:
    """ValueError unless ``operation`` is one of ``operations`` (which include "any")."""
    if operation not in operations:
        raise ValueError(f"operation must be one of {operations}, got {operation!r}")


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    kinds:
      http_error  answer ``status`` with the provider's error body; the operation does not run.
      latency     wait ``latency_ms``, then run the operation and answer normally.
      timeout     run the operation, then wait ``latency_ms`` before answering (a slow or lost response:
                  a create still creates, as a real server would). The answer carries ``LATE_ANSWER_HEADER``,
                  so a test's transport can raise the client's timeout without waiting (``latency_ms`` 0).
      reset       downloads: send headers and ``reset_after_bytes`` of body, then cut the connection.
                  Other operations: run the operation, then close the connection without answering.

    ``code``, ``message`` and ``error_type`` override parts of the error body where the provider's has them.
    """

    # The provider's operation names, "any" among them; a provider's subclass sets its own.
    OPERATIONS: ClassVar[tuple[str, ...]] = (ANY_OPERATION,)

    operation: str = ANY_OPERATION
    kind: FaultKind = "http_error"
    status: int = 500
    retry_after: float | None = None
    code: str | None = None
    message: str | None = None
    error_type: str | None = None
    times: int | None = None
    probability: float = 1.0
    latency_ms: int = 0
    reset_after_bytes: int = 0

    def __post_init__(self) -> None:
        check_operation(self.operation, self.OPERATIONS)
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if self.kind == "http_error" and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {self.status!r}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be None (forever) or >= 1, got {self.times!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {self.probability!r}")
        if self.latency_ms < 0 or self.reset_after_bytes < 0:
            raise ValueError("latency_ms and reset_after_bytes must not be negative")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")

    def applies_to(self, operation: str) -> bool:
        return self.operation in (ANY_OPERATION, operation)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return from_control_json(cls, data, "fault")


@dataclass
class FaultPlan:
    """What the faults that fired decided for one request."""

    delay_before_ms: int = 0
    terminal: Fault | None = None


@dataclass
class _ArmedFault:
    fault: Fault
    remaining: int | None
    fired: int = 0


class FaultBook:
    """The injected faults of one emulator, fired in injection order with a seeded random source.

    ``operations`` are the emulator's operation names ("any" among them); a fault naming another is refused.
    """

    def __init__(self, seed: int, operations: tuple[str, ...]) -> None:
        if ANY_OPERATION not in operations:
            raise ValueError(f"the operations of a FaultBook include {ANY_OPERATION!r}")
        self.operations = operations
        self._lock = threading.Lock()
        self._armed: list[_ArmedFault] = []
        # Deterministic test randomness, not cryptography.
        self._random = random.Random(seed)  # noqa: S311

    def add(self, fault: Fault) -> None:
        check_operation(fault.operation, self.operations)
        with self._lock:
            self._armed.append(_ArmedFault(fault, fault.times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**armed.fault.to_dict(), "remaining": armed.remaining, "fired": armed.fired} for armed in self._armed
            ]

    def plan(self, operation: str) -> FaultPlan:
        """Fire the faults that apply to this operation: latencies add up, the first other one wins."""
        plan = FaultPlan()
        with self._lock:
            for armed in list(self._armed):
                fault = armed.fault
                if not fault.applies_to(operation):
                    continue
                if fault.kind != "latency" and plan.terminal is not None:
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                armed.fired += 1
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                if fault.kind == "latency":
                    plan.delay_before_ms += fault.latency_ms
                else:
                    plan.terminal = fault
        return plan
