"""Scenarios: how one Runway task behaves (timings per status, outcome, output size, rejection at create)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from local.emulation.controls import from_control_json

Outcome = Literal["succeeded", "failed", "stuck"]
OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "stuck")

# Runway documents the failure codes (docs.dev.runwayml.com/errors/task-failures) but not the ``failure`` texts;
# these are the emulator's own.
FAILURE_MESSAGES: dict[str, str] = {
    "SAFETY.INPUT.TEXT": "The prompt text did not pass content moderation.",
    "SAFETY.INPUT.IMAGE": "An input image did not pass content moderation.",
    "SAFETY.OUTPUT.VIDEO": "The output did not pass content moderation.",
    "INPUT_PREPROCESSING.SAFETY.TEXT": "The prompt text was rejected for content moderation reasons.",
    "INPUT_PREPROCESSING.INTERNAL": "There was a problem performing content moderation.",
    "ASSET.INVALID": "An input asset could not be used.",
    "INTERNAL.BAD_OUTPUT.CODE01": "The generation was rejected by our systems for quality reasons.",
    "INTERNAL": "An internal error occurred.",
}
DEFAULT_FAILURE = "The task failed."


@dataclass(frozen=True)
class Scenario:
    """Behaviour of one task. ``None`` timings fall back to the server's EmulatorConfig.

    The task is PENDING for ``pending_seconds``, THROTTLED for ``throttled_seconds``, then RUNNING (progress 0 to 1)
    for ``running_seconds``; then SUCCEEDED, or FAILED once progress reaches ``fail_at_progress``, or it stays RUNNING
    at ``stuck_at_progress`` forever. ``reject_status``/``reject_error`` answer the create with that error instead.
    """

    pending_seconds: float | None = None
    throttled_seconds: float | None = None
    running_seconds: float | None = None
    outcome: Outcome = "succeeded"
    failure_code: str = "INTERNAL.BAD_OUTPUT.CODE01"
    failure: str | None = None
    fail_at_progress: float = 0.5
    stuck_at_progress: float = 0.5
    video_bytes: int | None = None
    reject_status: int | None = None
    reject_error: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        for name in ("fail_at_progress", "stuck_at_progress"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be within 0 (inclusive) and 1 (exclusive), got {value!r}")
        for name in ("pending_seconds", "throttled_seconds", "running_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if self.video_bytes is not None and self.video_bytes < 0:
            raise ValueError(f"video_bytes must not be negative, got {self.video_bytes!r}")
        if self.reject_status is not None and not 400 <= self.reject_status <= 599:
            raise ValueError(f"reject_status must be an HTTP error status, got {self.reject_status!r}")

    @classmethod
    def safety_failure(cls, failure_code: str = "SAFETY.INPUT.TEXT", **changes: Any) -> Scenario:
        """Moderation rejects the input: the task fails as soon as it starts running."""
        return cls(outcome="failed", failure_code=failure_code, fail_at_progress=0.0, **changes)

    @property
    def rejects(self) -> bool:
        return self.reject_status is not None or self.reject_error is not None

    def failure_message(self) -> str:
        if self.failure is not None:
            return self.failure
        return FAILURE_MESSAGES.get(self.failure_code, DEFAULT_FAILURE)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        return from_control_json(cls, data, "scenario")
