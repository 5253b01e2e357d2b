"""Emulator state: the videos, their clock-driven lifecycle, and the scenarios they follow."""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from local.emulation.scenarios import ScenarioBook
from local.emulator.scenarios import Scenario

TERMINAL_STATUSES = ("completed", "failed")


@dataclass
class VideoRecord:
    id: str
    seq: int
    model: str
    prompt: str
    size: str
    seconds: str
    created: float
    scenario: Scenario
    queue_seconds: float
    render_seconds: float
    remixed_from_video_id: str | None = None
    input_reference: dict[str, Any] | None = None
    deleted_at: float | None = None
    downloads: dict[str, int] = field(default_factory=dict)
    # Set once the video's terminal moment has been seen: its webhook was emitted or deliberately skipped.
    terminal_event_handled: bool = False


@dataclass(frozen=True)
class Lifecycle:
    """Where a video stands at one instant; ``status`` is the real one, before any status_override."""

    status: str
    progress: int
    completed_at: int | None
    expires_at: int | None
    error: dict[str, str] | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def lifecycle(record: VideoRecord, now: float, expires_after_seconds: int) -> Lifecycle:
    """Compute the status lazily from the clock: queued, then in_progress 0..99, then the outcome."""
    scenario = record.scenario
    queue, render = record.queue_seconds, record.render_seconds
    elapsed = now - record.created
    if elapsed < queue:
        return Lifecycle("queued", 0, None, None, None)
    rendering = elapsed - queue
    linear = 99 if render <= 0 else min(99, int(99 * rendering / render))
    if scenario.outcome == "stuck":
        return Lifecycle("in_progress", min(linear, scenario.stuck_at_progress), None, None, None)
    if scenario.outcome == "failed":
        fail_after = render * scenario.fail_at_progress / 99
        if rendering >= fail_after:
            error = {"code": scenario.fail_code, "message": scenario.fail_message}
            failed_at = int(record.created + queue + fail_after)
            return Lifecycle("failed", scenario.fail_at_progress, failed_at, None, error)
        return Lifecycle("in_progress", linear, None, None, None)
    if rendering >= render:
        completed_at = int(record.created + queue + render)
        return Lifecycle("completed", 100, completed_at, completed_at + expires_after_seconds, None)
    return Lifecycle("in_progress", linear, None, None, None)


def terminal_at(record: VideoRecord) -> float | None:
    """The exact moment ``lifecycle`` turns terminal (completed or failed); None if the video never does."""
    scenario = record.scenario
    start = record.created + record.queue_seconds
    if scenario.outcome == "stuck":
        return None
    if scenario.outcome == "failed":
        return start + record.render_seconds * scenario.fail_at_progress / 99
    return start + record.render_seconds


def video_object(record: VideoRecord, now: float, expires_after_seconds: int) -> dict[str, Any]:
    """The public Video object, exactly as the API returns it."""
    state = lifecycle(record, now, expires_after_seconds)
    return {
        "id": record.id,
        "object": "video",
        "model": record.model,
        "status": record.scenario.status_override or state.status,
        "progress": state.progress,
        "created_at": int(record.created),
        "completed_at": state.completed_at,
        "expires_at": state.expires_at,
        "prompt": record.prompt,
        "size": record.size,
        "seconds": record.seconds,
        "remixed_from_video_id": record.remixed_from_video_id,
        "error": state.error,
    }


class EmulatorState:
    """All mutable emulator state behind one lock (the HTTP server is threaded)."""

    def __init__(self, default_scenario: Scenario, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        # Ids drawn from the seed, when there is one, so that a seeded run names its videos the same every time.
        self._ids = random.Random(seed) if seed is not None else None  # noqa: S311 - ids of a test double
        self.scenarios = ScenarioBook(default_scenario)
        self.videos: dict[str, VideoRecord] = {}
        self.created_count = 0
        self.remix_count = 0
        self._seq = 0

    def new_video_id(self) -> str:
        with self.lock:
            while True:
                token = secrets.token_hex(12) if self._ids is None else f"{self._ids.getrandbits(96):024x}"
                if f"video_{token}" not in self.videos:
                    return f"video_{token}"

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def live(self, video_id: str) -> VideoRecord | None:
        with self.lock:
            record = self.videos.get(video_id)
            return record if record is not None and record.deleted_at is None else None

    def live_in_order(self) -> list[VideoRecord]:
        with self.lock:
            return sorted((r for r in self.videos.values() if r.deleted_at is None), key=lambda r: r.seq)
