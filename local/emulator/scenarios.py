"""Scenarios: how one generated video behaves (timing, outcome, size, rejection)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from local.emulation.controls import from_control_json

Outcome = Literal["completed", "failed", "stuck"]
OUTCOMES: tuple[str, ...] = ("completed", "failed", "stuck")

# Messages the hosted API used for its well-known create-time rejections.
REJECT_MESSAGES: dict[str, str] = {
    "moderation_blocked": "Your request was blocked by our moderation system.",
    "sentinel_block": (
        "Hmmm something didn't look right with your request. Please try again later or visit "
        "https://help.openai.com if this issue persists."
    ),
}


@dataclass(frozen=True)
class Scenario:
    """Behaviour of one video. ``None`` timings fall back to the server's EmulatorConfig."""

    queue_seconds: float | None = None
    render_seconds: float | None = None
    outcome: Outcome = "completed"
    fail_code: str = "video_generation_failed"
    fail_message: str = "Video generation failed. Please try again."
    fail_at_progress: int = 50
    stuck_at_progress: int = 50
    video_bytes: int | None = None
    reject_code: str | None = None
    reject_message: str | None = None
    reject_status: int = 400
    status_override: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        for name in ("fail_at_progress", "stuck_at_progress"):
            value = getattr(self, name)
            if not 0 <= value <= 99:
                raise ValueError(f"{name} must be within 0..99, got {value!r}")
        for name in ("queue_seconds", "render_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if self.video_bytes is not None and self.video_bytes < 0:
            raise ValueError(f"video_bytes must not be negative, got {self.video_bytes!r}")
        if not 400 <= self.reject_status <= 599:
            raise ValueError(f"reject_status must be an HTTP error status, got {self.reject_status!r}")

    @property
    def rejects(self) -> bool:
        return self.reject_code is not None

    def rejection_message(self) -> str:
        if self.reject_message is not None:
            return self.reject_message
        return REJECT_MESSAGES.get(self.reject_code or "", "Your request was rejected.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        return from_control_json(cls, data, "scenario")
