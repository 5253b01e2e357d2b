"""Scenarios: how one submitted request behaves (time in the queue and in progress, outcome, output, webhook)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from local.emulation.controls import from_control_json

Outcome = Literal["completed", "failed", "stuck"]
OUTCOMES: tuple[str, ...] = ("completed", "failed", "stuck")
WebhookFault = Literal["bad_signature", "stale_timestamp", "duplicate", "rotated_key"]
WEBHOOK_FAULTS: tuple[str, ...] = ("bad_signature", "stale_timestamp", "duplicate", "rotated_key")


@dataclass(frozen=True)
class ModelFailure:
    """A documented model error type (https://docs.fal.ai/errors): its status, message and where it points."""

    status: int
    msg: str
    retryable: bool
    field: str | None = None


FAILURES: dict[str, ModelFailure] = {
    "content_policy_violation": ModelFailure(
        422,
        "The content could not be processed because it contained material flagged by a content checker.",
        retryable=False,
        field="prompt",
    ),
    "internal_server_error": ModelFailure(500, "Internal server error", retryable=True),
    "generation_timeout": ModelFailure(504, "Generation timeout", retryable=True),
    "downstream_service_error": ModelFailure(400, "Downstream service error", retryable=False),
    "downstream_service_unavailable": ModelFailure(500, "Downstream service unavailable", retryable=True),
}


@dataclass(frozen=True)
class Scenario:
    """Behaviour of one request. ``None`` timings fall back to the server's FalEmulatorConfig.

    queue_seconds       the least time it waits before a runner may take it (it may wait longer for a free one)
    processing_seconds  time IN_PROGRESS before the outcome
    outcome             ``completed``; ``failed`` with the model error ``error_type``; ``stuck`` (IN_PROGRESS
                        forever, holding its runner)
    video_bytes         exact size of the output file (the fixture mp4 padded with an MP4 ``free`` box)
    honors_cancel       a cancel while IN_PROGRESS stops it (result 499 client_cancelled); by default the app
                        ignores the signal and the request runs to its outcome
    webhook_fault       how its webhook misbehaves: a bad signature, a timestamp outside the 5-minute window,
                        a second delivery, or a signature by the JWKS's second key
    webhook_payload_error  the webhook says the payload could not be serialized (``payload`` null)
    """

    queue_seconds: float | None = None
    processing_seconds: float | None = None
    outcome: Outcome = "completed"
    error_type: str = "content_policy_violation"
    error_message: str | None = None
    video_bytes: int | None = None
    honors_cancel: bool = False
    file_expires_after_seconds: float | None = None
    webhook_fault: WebhookFault | None = None
    webhook_payload_error: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if self.error_type not in FAILURES:
            raise ValueError(f"error_type must be one of {tuple(FAILURES)}, got {self.error_type!r}")
        if self.webhook_fault is not None and self.webhook_fault not in WEBHOOK_FAULTS:
            raise ValueError(f"webhook_fault must be one of {WEBHOOK_FAULTS}, got {self.webhook_fault!r}")
        for name in ("queue_seconds", "processing_seconds", "video_bytes", "file_expires_after_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")

    @property
    def failure(self) -> ModelFailure:
        return FAILURES[self.error_type]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        return from_control_json(cls, data, "scenario")
