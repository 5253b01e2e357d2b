"""When to ask the provider about a job next: adaptive, from what is known about the generation.

Soon after submit; rarely while the end is far; often near the estimated end. The estimate comes from
the observed rate of progress, or before any progress from the model's typical render time for the
clip's length and size. The provider's `openai-poll-after-ms` is a floor, jitter spreads the polls of
jobs submitted together, and the result is clamped to configurable bounds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sorajobs.config import Settings
from sorajobs.models.job import Job, JobStatus

# Typical render time (seconds) of a 4 s clip at the smaller sizes; longer clips and larger sizes scale it.
TYPICAL_RENDER_SECONDS = {"sora-2": 90.0, "sora-2-pro": 300.0}
DEFAULT_RENDER_SECONDS = 120.0
LARGE_SIZES = frozenset({"1024x1792", "1792x1024"})
LARGE_SIZE_FACTOR = 1.5


def typical_render_seconds(job: Job) -> float:
    base = TYPICAL_RENDER_SECONDS.get(job.model, DEFAULT_RENDER_SECONDS) * int(job.seconds) / 4
    return base * (LARGE_SIZE_FACTOR if job.size in LARGE_SIZES else 1.0)


def estimated_seconds_remaining(job: Job, now: datetime) -> int | None:
    """From the rate of progress seen since the first progress report, else since submission, else typical."""
    if not job.is_unfinished:
        return None
    if job.awaiting_storage:
        return 0
    # With two progress reports the rate is known; before that, the time since submission would count
    # the provider's queue as rendering time and overshoot, so the model's typical time is used.
    if job.rendering_since is not None and job.progress > job.progress_baseline:
        elapsed = (now - job.rendering_since).total_seconds()
        if elapsed > 0:
            return max(0, round(elapsed * (100 - job.progress) / (job.progress - job.progress_baseline)))
    return round(typical_render_seconds(job) * (100 - job.progress) / 100)


@dataclass(frozen=True)
class PollSchedule:
    min_seconds: float = 5.0
    max_seconds: float = 120.0
    # A queued job is polled after this share of its typical render time (within the bounds).
    queued_fraction: float = 0.1
    # An in-progress job is polled after this share of its estimated remaining time: often near the end.
    remaining_fraction: float = 0.6
    jitter_fraction: float = 0.1
    # A job that stops moving times out this long after its last progress (None: no such limit), and any
    # unfinished job this long after its attempt started; the next poll never comes later than that, so
    # the sweep fails a stuck job when it times out, not up to `max_seconds` after.
    stuck_after_seconds: float | None = None
    max_job_age_seconds: float | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @classmethod
    def for_settings(cls, settings: Settings, rng: random.Random) -> PollSchedule:
        return cls(
            min_seconds=settings.poll_min_seconds,
            max_seconds=settings.poll_max_seconds,
            stuck_after_seconds=settings.stuck_after_seconds,
            max_job_age_seconds=settings.max_job_age_seconds,
            rng=rng,
        )

    def delay(self, job: Job, now: datetime, provider_hint_seconds: float | None = None) -> timedelta:
        if job.status is JobStatus.QUEUED or job.status is JobStatus.PENDING:
            seconds = typical_render_seconds(job) * self.queued_fraction
        else:
            remaining = estimated_seconds_remaining(job, now) or 0
            seconds = remaining * self.remaining_fraction
        seconds *= 1 + self.rng.uniform(-self.jitter_fraction, self.jitter_fraction)
        seconds = max(seconds, provider_hint_seconds or 0.0)
        seconds = min(self.max_seconds, max(self.min_seconds, seconds))
        return timedelta(seconds=min(seconds, self._seconds_until_timeout(job, now)))

    def _seconds_until_timeout(self, job: Job, now: datetime) -> float:
        """Seconds until the job would time out (plus one, to be past it), at least `min_seconds`."""
        deadlines = []
        if self.max_job_age_seconds is not None:
            deadlines.append(job.attempt_started_at + timedelta(seconds=self.max_job_age_seconds))
        if self.stuck_after_seconds is not None and job.status is not JobStatus.PENDING and not job.awaiting_storage:
            deadlines.append(job.last_progress_at + timedelta(seconds=self.stuck_after_seconds))
        if not deadlines:
            return self.max_seconds
        return max(self.min_seconds, (min(deadlines) - now).total_seconds() + 1)
