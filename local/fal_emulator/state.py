"""Emulator state: the submitted requests, the queue that runs them, their output files and the scenario book."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass

from local.emulation.scenarios import ScenarioBook
from local.fal_emulator.queue import QueuedRequest, RequestQueue
from local.fal_emulator.scenarios import Scenario

# fal's CDN paths read /files/<word>/<id>_output.mp4; the emulator picks its words from these.
_FILE_BUCKETS = ("koala", "lion", "monkey", "panda", "penguin", "rabbit", "tiger", "zebra")
_PATH_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass
class OutputFile:
    """A generated video on the emulator's CDN; ``expires_at`` None: kept."""

    request_id: str
    path: str
    video_bytes: int | None
    expires_at: float | None
    downloads: int = 0


class FalState:
    """All mutable emulator state behind one lock (the HTTP server is threaded)."""

    def __init__(self, default_scenario: Scenario, concurrency: int, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        # Ids drawn from the seed, when there is one, so that a seeded run names its requests the same every time.
        self._ids = random.Random(seed) if seed is not None else None  # noqa: S311 - ids of a test double
        self.scenarios: ScenarioBook[Scenario] = ScenarioBook(default_scenario)
        self.queue = RequestQueue(concurrency)
        self.requests: dict[str, QueuedRequest] = {}
        self.files: dict[str, OutputFile] = {}
        self.submitted_count = 0
        # Requests that completed and whose webhook (if they asked for one) has not been handed to the sender.
        self.unannounced: list[QueuedRequest] = []
        self._seq = 0

    def settle(self, now: float) -> None:
        """Bring the queue up to ``now``; what completed waits in ``unannounced``."""
        with self.lock:
            self.unannounced.extend(self.queue.advance(now))

    def new_request_id(self) -> str:
        with self.lock:
            while True:
                value = uuid.uuid4() if self._ids is None else uuid.UUID(int=self._ids.getrandbits(128), version=4)
                if str(value) not in self.requests:
                    return str(value)

    def new_file_path(self) -> str:
        """``<word>/<token>_output.mp4``, like the paths of fal's CDN."""
        with self.lock:
            source = self._ids or random.SystemRandom()
            bucket = source.choice(_FILE_BUCKETS)
            token = "".join(
                source.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(21)
            )
            return f"{bucket}/{token}_output.mp4"

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq
