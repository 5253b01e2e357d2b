"""The queue: requests wait IN_QUEUE until one of ``concurrency`` runners is free, run IN_PROGRESS, then COMPLETED.

State is simulated on the emulator's clock: every read first replays what happened up to now (runners freeing,
the next queued requests starting in submission order), so ``queue_position`` counts down as earlier requests
finish, and a ManualClock moved by an hour replays that hour exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from local.fal_emulator import errors
from local.fal_emulator.models import Model
from local.fal_emulator.scenarios import Scenario

Status = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
# Log lines a running request has written once this share of its processing time has passed.
_PROGRESS_LOGS: tuple[tuple[float, str], ...] = (
    (0.0, "Starting generation"),
    (0.25, "Generating video: 25%"),
    (0.5, "Generating video: 50%"),
    (0.75, "Generating video: 75%"),
)


@dataclass
class Result:
    """How a completed request answers its result URL. ``body`` None: the model output (built per request,
    since it names the file URL)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @classmethod
    def from_error(cls, error: errors.FalError, error_type: str) -> Result:
        # The webhook's "error" text for a failed request (webhooks page: "Invalid status code: 422").
        return cls(error.status, error.body(), dict(error.headers), f"Invalid status code: {error.status}", error_type)


@dataclass
class QueuedRequest:
    id: str
    seq: int
    model: Model
    arguments: dict[str, Any]
    submitted_at: float
    scenario: Scenario
    queue_seconds: float
    processing_seconds: float
    invalid_input: list[dict[str, Any]]
    webhook_url: str | None = None
    file_expires_after_seconds: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested_at: float | None = None
    result: Result | None = None
    file_token: str | None = None
    webhook_emitted: bool = False

    @property
    def eligible_at(self) -> float:
        return self.submitted_at + self.queue_seconds

    @property
    def status(self) -> Status:
        if self.finished_at is not None:
            return "COMPLETED"
        return "IN_QUEUE" if self.started_at is None else "IN_PROGRESS"

    def planned_finish(self) -> float:
        """When a running request finishes on its own: at once for an invalid input, never when stuck."""
        assert self.started_at is not None
        if self.invalid_input:
            return self.started_at
        if self.scenario.outcome == "stuck":
            return math.inf
        return self.started_at + self.processing_seconds

    def logs(self, now: float) -> list[dict[str, str]]:
        """The runner's log lines so far (``RequestLog``: message, level, source, timestamp)."""
        if self.started_at is None:
            return []
        lines: list[tuple[float, str, str]] = []
        end = self.finished_at if self.finished_at is not None else now
        for share, message in _PROGRESS_LOGS:
            at = self.started_at + share * self.processing_seconds
            if at <= end and not (self.invalid_input and share > 0):
                lines.append((at, "INFO", message))
        if self.finished_at is not None and self.result is not None:
            if self.result.ok:
                lines.append((self.finished_at, "INFO", "Generation complete"))
            else:
                lines.append((self.finished_at, "ERROR", self.result.error or "Generation failed"))
        return [
            {"message": message, "level": level, "source": "stdout", "timestamp": _iso(at)}
            for at, level, message in lines
        ]

    def metrics(self) -> dict[str, float]:
        if self.finished_at is None or self.started_at is None:
            return {}
        return {"inference_time": round(self.finished_at - self.started_at, 6)}


class RequestQueue:
    """The queue simulation; the caller holds the emulator's state lock around every call."""

    def __init__(self, concurrency: int) -> None:
        self._check(concurrency)
        self.concurrency = concurrency
        self.sim_time = -math.inf
        self.queued: list[QueuedRequest] = []
        self.running: list[QueuedRequest] = []

    @staticmethod
    def _check(concurrency: int) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")

    def advance(self, now: float) -> list[QueuedRequest]:
        """Replay every start and finish up to ``now``; return the requests that finished, in finishing order."""
        finished: list[QueuedRequest] = []
        if now < self.sim_time:
            return finished  # a clock never moves back; a stale reading changes nothing
        while True:
            self._dispatch()
            moment = self._next_event()
            if moment is None or moment > now:
                break
            self.sim_time = moment
            for record in sorted(self.running, key=lambda r: (r.planned_finish(), r.seq)):
                if record.planned_finish() <= moment:
                    self._finish(record, moment)
                    finished.append(record)
        self.sim_time = now
        self._dispatch()
        return finished

    def submit(self, record: QueuedRequest) -> None:
        """Queue a request submitted at ``sim_time`` (the caller advanced to it first)."""
        self.queued.append(record)
        self._dispatch()

    def position(self, record: QueuedRequest) -> int:
        """How many queued requests are ahead of this one (0: next to start)."""
        return self.queued.index(record)

    def cancel(self, record: QueuedRequest) -> bool:
        """A cancel at ``sim_time``: a queued request leaves the queue and completes as cancelled; a running
        one stops only when its scenario honors the signal. True when the request completed now."""
        if record.status == "IN_QUEUE":
            self.queued.remove(record)
            record.cancel_requested_at = self.sim_time
            self._complete(record, self.sim_time, _cancelled())
            return True
        if record.status == "IN_PROGRESS":
            record.cancel_requested_at = self.sim_time
            if record.scenario.honors_cancel:
                self.running.remove(record)
                self._complete(record, self.sim_time, _cancelled())
                self._dispatch()
                return True
        return False

    def set_concurrency(self, concurrency: int) -> None:
        """Change the number of runners at ``sim_time``; running requests keep their runner."""
        self._check(concurrency)
        self.concurrency = concurrency
        self._dispatch()

    def next_event(self) -> float | None:
        """The next moment something starts or finishes, for a scheduler on a real clock."""
        return self._next_event()

    def _next_event(self) -> float | None:
        moments = [record.planned_finish() for record in self.running]
        if len(self.running) < self.concurrency and self.queued:
            moments.append(min(record.eligible_at for record in self.queued))
        finite = [moment for moment in moments if moment != math.inf]
        upcoming = min(finite) if finite else None
        if upcoming is not None and upcoming < self.sim_time:
            return self.sim_time
        return upcoming

    def _dispatch(self) -> None:
        """Start queued requests, oldest first among those whose minimum queue time passed, on free runners."""
        while len(self.running) < self.concurrency:
            ready = next((record for record in self.queued if record.eligible_at <= self.sim_time), None)
            if ready is None:
                return
            self.queued.remove(ready)
            ready.started_at = self.sim_time
            self.running.append(ready)

    def _finish(self, record: QueuedRequest, moment: float) -> None:
        self.running.remove(record)
        self._complete(record, moment, outcome_result(record))

    @staticmethod
    def _complete(record: QueuedRequest, moment: float, result: Result) -> None:
        record.finished_at = moment
        record.result = result


def outcome_result(record: QueuedRequest) -> Result:
    """The result a request that ran to its end answers: its input's validation errors, else its scenario's."""
    if record.invalid_input:
        error = errors.model_error(422, record.invalid_input, retryable=False)
        return Result.from_error(error, record.invalid_input[0]["type"])
    scenario = record.scenario
    if scenario.outcome == "failed":
        failure = scenario.failure
        entry = errors.model_error_entry(
            scenario.error_type, scenario.error_message or failure.msg, record.arguments, failure.field
        )
        return Result.from_error(
            errors.model_error(failure.status, [entry], retryable=failure.retryable), scenario.error_type
        )
    return Result(200)


def _cancelled() -> Result:
    return Result.from_error(errors.request_error(499, "client_cancelled"), "client_cancelled")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
