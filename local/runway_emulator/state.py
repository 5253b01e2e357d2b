"""Emulator state: the tasks, their clock-driven lifecycle, the scenarios they follow, and the credits they cost."""

from __future__ import annotations

import math
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulation.scenarios import ScenarioBook
from local.runway_emulator.scenarios import Scenario

ACTIVE_STATUSES = ("PENDING", "THROTTLED", "RUNNING")
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED")
# Runway reports progress with two decimals; a running task never reports 1.
_MAX_RUNNING_PROGRESS = 0.99


@dataclass
class TaskRecord:
    id: str
    seq: int
    endpoint: str
    model: str
    params: dict[str, Any]
    created: float
    scenario: Scenario
    pending_seconds: float
    throttled_seconds: float
    running_seconds: float
    estimated_credits: int
    # DELETE cancels an active task (the status it had then decides the refund) and deletes a finished one.
    cancelled_at: float | None = None
    cancelled_from: str | None = None
    deleted_at: float | None = None
    downloads: int = 0


@dataclass(frozen=True)
class TaskState:
    """Where a task stands at one instant."""

    status: str
    progress: float | None = None
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def natural_state(record: TaskRecord, now: float) -> TaskState:
    """The status from the clock alone, as if the task was never cancelled."""
    scenario = record.scenario
    elapsed = now - record.created
    if elapsed < record.pending_seconds:
        return TaskState("PENDING")
    if elapsed < record.pending_seconds + record.throttled_seconds:
        return TaskState("THROTTLED")
    started = record.created + record.pending_seconds + record.throttled_seconds
    running, total = now - started, record.running_seconds
    if scenario.outcome == "failed":
        fail_after = total * scenario.fail_at_progress
        if running >= fail_after:
            return TaskState("FAILED", finished_at=started + fail_after)
    if scenario.outcome == "succeeded" and running >= total:
        return TaskState("SUCCEEDED", finished_at=started + total)
    progress = _MAX_RUNNING_PROGRESS
    if total > 0:
        progress = min(_MAX_RUNNING_PROGRESS, math.floor(100 * running / total) / 100)
    if scenario.outcome == "stuck":
        progress = min(progress, scenario.stuck_at_progress)
    return TaskState("RUNNING", progress=progress)


def lifecycle(record: TaskRecord, now: float) -> TaskState:
    if record.cancelled_at is not None and now >= record.cancelled_at:
        return TaskState("CANCELLED", finished_at=record.cancelled_at)
    return natural_state(record, now)


def charged_credits(record: TaskRecord, state: TaskState) -> int:
    """What the task costs at this instant: the estimate while it runs; then the final cost, which is 0 for refunded
    tasks (failed, or cancelled before they ran) and the estimate otherwise."""
    if state.status in ("FAILED",):
        return 0
    if state.status == "CANCELLED":
        return 0 if record.cancelled_from in ("PENDING", "THROTTLED") else record.estimated_credits
    return record.estimated_credits


def iso_timestamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_object(record: TaskRecord, state: TaskState, output: list[str]) -> dict[str, Any]:
    """The public Task object of GET /v1/tasks/{id}, shaped per status as the SDK's TaskRetrieveResponse."""
    body: dict[str, Any] = {"id": record.id, "createdAt": iso_timestamp(record.created), "status": state.status}
    if state.status == "RUNNING":
        body["progress"] = state.progress
    if state.active:
        body["estimatedCost"] = {"credits": record.estimated_credits}
        return body
    if state.status == "SUCCEEDED":
        body["output"] = output
    if state.status == "FAILED":
        body["failure"] = record.scenario.failure_message()
        body["failureCode"] = record.scenario.failure_code
    body["cost"] = {"credits": charged_credits(record, state)}
    return body


@dataclass
class RunwayState:
    """All mutable emulator state behind one lock (the HTTP server is threaded)."""

    default_scenario: Scenario
    id_seed: int | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    created_count: int = 0
    _seq: int = 0

    def __post_init__(self) -> None:
        self.scenarios = ScenarioBook(self.default_scenario)
        # Task ids drawn from the seed, when there is one, so that a seeded run names its tasks the same every time.
        self._ids = random.Random(self.id_seed) if self.id_seed is not None else None  # noqa: S311 - test ids

    def new_task_id(self) -> str:
        with self.lock:
            while True:
                drawn = uuid.uuid4() if self._ids is None else uuid.UUID(int=self._ids.getrandbits(128), version=4)
                task_id = str(drawn)
                if task_id not in self.tasks:
                    return task_id

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def visible(self, task_id: str, now: float, cancelled_visible_seconds: float) -> TaskRecord | None:
        """The task as GET and DELETE see it: None once deleted, or once a cancelled task stopped being shown."""
        with self.lock:
            record = self.tasks.get(task_id)
            if record is None or record.deleted_at is not None:
                return None
            if record.cancelled_at is not None and now >= record.cancelled_at + cancelled_visible_seconds:
                return None
            return record

    def credits_spent(self, now: float) -> int:
        with self.lock:
            return sum(charged_credits(record, lifecycle(record, now)) for record in self.tasks.values())

    def daily_generations(self, now: float) -> dict[str, int]:
        with self.lock:
            counts: dict[str, int] = {}
            for record in self.tasks.values():
                if now - record.created < 86_400:
                    counts[record.model] = counts.get(record.model, 0) + 1
            return counts
