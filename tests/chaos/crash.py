"""Crash injection: an invocation killed at a step boundary, as Lambda kills one at its timeout.

A kill is `InvocationKilled`, a BaseException: no `except Exception` in the code under test can catch it,
so nothing after the kill point runs (no clean-up, no abort, no later write), as in a real kill.
The points sit inside the side effects the handlers use, so no production code knows about them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, cast

from sorajobs.catalog import ProviderName
from sorajobs.clock import Clock
from sorajobs.dal.queue import StoreVideoQueue
from sorajobs.dal.storage import VideoStorage
from sorajobs.models.messages import StoreVideoMessage
from sorajobs.providers.base import (
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderRateLimitedError,
    ProviderVideo,
    VideoProvider,
)
from sorajobs.services import Services

CrashPoint = Literal["after_provider_create", "after_upload_parts", "after_status_write"]
CRASH_POINTS: tuple[CrashPoint, ...] = ("after_provider_create", "after_upload_parts", "after_status_write")
# What came of a paid create, as the invocation that sent it saw it: a generation's id; a refusal, which makes
# nothing (a 429, a rejection); no answer it could use (a timeout, a 5xx, a cut connection); or an answer the
# invocation died holding, before it was stored.
CreateAnswer = Literal["generation", "refused", "lost", "killed"]


@dataclass(frozen=True)
class CreateCall:
    """One create sent to a provider, when (on the backend's clock), and what came back."""

    provider: ProviderName
    prompt: str
    at: datetime
    answer: CreateAnswer


class InvocationKilled(BaseException):
    """The invocation died here."""

    def __init__(self, point: CrashPoint) -> None:
        super().__init__(point)
        self.point = point


class CrashPlan:
    """Which step boundaries kill, and with what probability.

    Client threads are spared (`spared()`): a killed API invocation would be API Gateway's 5xx, not a
    recovery case. The sweep, whose work runs on its own worker threads, and the queue workers can die.
    """

    def __init__(self, probabilities: dict[CrashPoint, float] | None = None, *, seed: int = 0) -> None:
        self.probabilities: dict[CrashPoint, float] = dict(probabilities or {})
        self.kills: Counter[CrashPoint] = Counter()
        # Every create that reached a provider's client, in order: the chaos run tells a job failed because a
        # create's answer was lost (`create_outcome_unknown`, where the provider cannot be asked) from any other.
        self.creates: list[CreateCall] = []
        self._once: dict[CrashPoint, int] = {}  # point -> passes to let through before the kill
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._spared = threading.local()

    def kill_next(self, point: CrashPoint, *, after: int = 0) -> None:
        """The next pass through `point` dies, once `after` passes have gone through (for tests of one
        recovery: `after=1` at "after_upload_parts" kills the thumbnail's upload, not the video's)."""
        with self._lock:
            self._once[point] = after

    @contextmanager
    def spared(self) -> Iterator[None]:
        """Nothing dies in this thread while the block runs."""
        self._spared.on = True
        try:
            yield
        finally:
            self._spared.on = False

    def note_create(self, call: CreateCall) -> None:
        with self._lock:
            self.creates.append(call)

    def reached(self, point: CrashPoint) -> None:
        """Called at the step boundary: raises InvocationKilled when this pass dies."""
        if getattr(self._spared, "on", False):
            return
        with self._lock:
            if point in self._once:
                passes_left = self._once.pop(point)
                dies = passes_left == 0
                if not dies:
                    self._once[point] = passes_left - 1
            else:
                dies = self._random.random() < self.probabilities.get(point, 0.0)
            if dies:
                self.kills[point] += 1
        if dies:
            raise InvocationKilled(point)


class _KillAfterCreate:
    """The provider, killing the invocation once a create has reached it but before its answer is stored; it
    notes what came of each create in the plan's `creates`."""

    def __init__(self, provider: VideoProvider, plan: CrashPlan, clock: Clock) -> None:
        self._provider = provider
        self.wraps = provider
        self._plan = plan
        self._clock = clock

    def submit(self, request: GenerationRequest) -> ProviderVideo:
        at = self._clock.now()
        answer: CreateAnswer = "lost"
        try:
            video = self._provider.submit(request)
            answer = "killed"
            self._plan.reached("after_provider_create")
            answer = "generation"
        except (ProviderRateLimitedError, GenerationRejectedError, ProviderAuthError):
            answer = "refused"
            raise
        finally:
            self._plan.note_create(CreateCall(self._provider.name, request.prompt, at, answer))
        return video

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)


class _KillBeforeCompletingUpload:
    """An S3 client that kills the invocation after the parts are uploaded, before the upload is completed."""

    def __init__(self, s3: Any, plan: CrashPlan) -> None:
        self._s3 = s3
        self._plan = plan

    def complete_multipart_upload(self, **kwargs: Any) -> Any:
        self._plan.reached("after_upload_parts")
        return self._s3.complete_multipart_upload(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


class _KillBeforeStoreRequest(StoreVideoQueue):
    """The store queue, killing the invocation after the job's status write, before the store request."""

    def __init__(self, queue: StoreVideoQueue, plan: CrashPlan) -> None:
        self._queue = queue
        self._plan = plan

    def request_store(self, message: StoreVideoMessage) -> None:
        self._plan.reached("after_status_write")
        self._queue.request_store(message)


class CrashingServices(Services):
    """The production services with the three crash points of `CrashPlan` in their side effects."""

    def __init__(self, *args: Any, crashes: CrashPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crashes = crashes
        self._wrapped: dict[str, _KillAfterCreate] = {}

    def provider(self, name: ProviderName) -> VideoProvider:
        built = super().provider(name)
        with self._providers_lock:
            wrapped = self._wrapped.get(name)
            if wrapped is None or wrapped.wraps is not built:
                wrapped = self._wrapped[name] = _KillAfterCreate(built, self.crashes, self.clock)
        return cast(VideoProvider, wrapped)

    @cached_property
    def storage(self) -> VideoStorage:
        return VideoStorage(
            _KillBeforeCompletingUpload(self._client("s3"), self.crashes), self.settings.videos_bucket_name
        )

    @cached_property
    def store_queue(self) -> StoreVideoQueue:
        return _KillBeforeStoreRequest(StoreVideoQueue(self.sqs, self.settings.store_video_queue_url), self.crashes)
