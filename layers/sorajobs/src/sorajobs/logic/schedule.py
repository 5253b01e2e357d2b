"""When to ask the provider about a job next.

"predicted" (the default): from the render times this deployment learned for the job's kind
(`sorajobs.logic.render_times`). Before the provider reports progress, the next look comes at an early quantile of
the time the generation takes, given that it has not finished yet (2 %, so that the look finds it rendering); a job
still queued is looked at again after a tenth of the learned median. One progress report bounds the time left
(rendering taken to start at acceptance); the next look comes before that bound (and no later than the learned
median of what is left), and gives a measured rate; from then on the next look comes a point of progress before the
finish that rate predicts. So looks come sparse early and dense near the expected finish. The sweep never exceeds
the provider's request budget.

A provider without progress reports is learned in phases (fal, which says a request's place in its queue and when
its rendering began): a queued job is looked at when its wait has most likely ended (`QUEUE_END_SHARE`; see
`queue_wait` and `phase_standing`), but before the first finish that is plausible; a rendering one in steps across
the likely end of its rendering, timed from its start (at most half of what is left at a time).

"ladder" (the schedule before learning, kept for comparison in `bench/detection.py`): a share of the model's typical
time while queued, a share of the estimated time left while rendering.

Either way the provider's `openai-poll-after-ms` is a floor, jitter spreads the looks of jobs submitted together
(the predicted schedule's only brings a look forward), the result is clamped to configurable bounds, and no look
comes later than the job's timeout.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sorajobs.config import Settings
from sorajobs.logic.render_times import (
    PriorRenderTimes,
    RenderTimeDistribution,
    RenderTimeLookup,
    accepted_at,
    learns_phases,
    phase_standing,
    progress_rate,
    seconds_left_at,
    typical_render_seconds,
)
from sorajobs.models.job import Job, JobStatus

PollStrategy = Literal["predicted", "ladder"]
# The first look at a job of a provider that reports progress: when this share of such jobs has finished.
FIRST_LOOK_SHARE = 0.02
# Without progress reports, each look halves the chance that the job is still running.
BLIND_LOOK_SHARE = 0.5
# After one progress report, the next look comes at this share of the time left at that report's rate.
ONE_REPORT_SHARE = 0.5
# Before the finish a measured rate predicts, by this many of the seconds one point of progress takes: progress
# comes in whole points, so a rate measured from two reports is off by up to a point at each end.
FINISH_MARGIN_POINTS = 1.0
# A job rendering blind (no progress, its start known) is looked at in steps across its likely end: this many
# steps across its 5th to 95th percentile, none shorter than this.
BLIND_STEPS_ACROSS = 3
BLIND_STEP_SECONDS = 10.0
# A job waiting at a place in its provider's queue is looked at when it has started with this probability: a look
# once it renders tells when it began (a provider learned in phases says), so a later look loses nothing.
QUEUE_END_SHARE = 0.9


@dataclass(frozen=True)
class PollSchedule:
    min_seconds: float = 5.0
    max_seconds: float = 120.0
    strategy: PollStrategy = "predicted"
    render_times: RenderTimeLookup = field(default_factory=PriorRenderTimes, compare=False)
    # The ladder's shares: a queued job is polled after this share of its typical render time, an
    # in-progress one after this share of its estimated time left.
    queued_fraction: float = 0.1
    remaining_fraction: float = 0.6
    jitter_fraction: float = 0.1
    # A job that stops moving times out this long after its last progress (None: no such limit), and any
    # unfinished job this long after its attempt started; the next poll never comes later than that, so
    # the sweep fails a stuck job when it times out, not up to `max_seconds` after.
    stuck_after_seconds: float | None = None
    max_job_age_seconds: float | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @classmethod
    def for_settings(
        cls, settings: Settings, rng: random.Random, render_times: RenderTimeLookup | None = None
    ) -> PollSchedule:
        return cls(
            min_seconds=settings.poll_min_seconds,
            max_seconds=settings.poll_max_seconds,
            strategy=settings.poll_strategy,
            render_times=render_times or PriorRenderTimes(),
            stuck_after_seconds=settings.stuck_after_seconds,
            max_job_age_seconds=settings.max_job_age_seconds,
            rng=rng,
        )

    def delay(self, job: Job, now: datetime, provider_hint_seconds: float | None = None) -> timedelta:
        if self.strategy == "ladder" or job.status is JobStatus.PENDING:
            seconds = self._ladder_seconds(job, now) * self._jitter()
        else:
            seconds = self._predicted_seconds(job, now)
        seconds = max(seconds, provider_hint_seconds or 0.0)
        seconds = min(self.max_seconds, max(self.min_seconds, seconds))
        return timedelta(seconds=min(seconds, self._seconds_until_timeout(job, now)))

    def _ladder_seconds(self, job: Job, now: datetime) -> float:
        if job.status is JobStatus.QUEUED or job.status is JobStatus.PENDING:
            return typical_render_seconds(job) * self.queued_fraction
        return ladder_seconds_left(job, now) * self.remaining_fraction

    def _predicted_seconds(self, job: Job, now: datetime) -> float:
        if learns_phases(job):
            return self._phased_seconds(job, now)
        by_rate = progress_rate(job)
        if by_rate is not None and by_rate[1]:  # measured between two reports: the learned times are not needed
            rate = by_rate[0]
            return seconds_left_at(job, now, rate) - FINISH_MARGIN_POINTS / rate
        distribution = self.render_times.distribution(job)
        elapsed = max(0.0, (now - accepted_at(job)).total_seconds())
        if by_rate is not None:
            # One report bounds the time left loosely when the job sat queued for long; the learned median of
            # what is left caps the wait for the report that measures the rate.
            bound = seconds_left_at(job, now, by_rate[0])
            return min(bound * ONE_REPORT_SHARE, distribution.left_after(elapsed, 0.5))
        if job.status is JobStatus.QUEUED and elapsed >= self.min_seconds:
            # Looked at and still queued (a fresh job is seconds old at most: the provider's created_at is whole
            # seconds): its rendering has not begun, so no early finish is to be caught.
            return distribution.quantile(0.5) * self.queued_fraction
        # A job reported part done (at one instant: no rate yet) has only the rest of that time to go.
        left_share = (100 - job.progress) / 100
        return distribution.left_after(elapsed, FIRST_LOOK_SHARE) * left_share * self._early()

    def _phased_seconds(self, job: Job, now: datetime) -> float:
        """A job of a provider learned in phases (see the module)."""
        standing = phase_standing(job, now, self.render_times)
        rendering, queue, elapsed = standing.rendering, standing.queue, standing.elapsed
        if queue is None:  # rendering: timed from its start
            return self._rendering_look(rendering, elapsed) * self._early()
        # The earliest finish that is plausible, had it started as soon as its wait began to count (its place does
        # not bound that from below).
        first_finish = rendering.quantile(FIRST_LOOK_SHARE) - elapsed
        return min(queue.left_after(elapsed, QUEUE_END_SHARE), first_finish) * self._early()

    @staticmethod
    def _rendering_look(rendering: RenderTimeDistribution, since: float) -> float:
        """Seconds to the next look at a job rendering blind for `since` seconds: when half of what is left would
        have finished, but no later than a step past the first finishes still likely (5 %), the step a third of
        the likely window (5 % to 95 %) and never under BLIND_STEP_SECONDS: a regular kind is watched closely
        around its end, a spread one sparsely."""
        first, last = rendering.left_after(since, 0.05), rendering.left_after(since, 0.95)
        step = max(BLIND_STEP_SECONDS, (last - first) / BLIND_STEPS_ACROSS)
        return min(rendering.left_after(since, BLIND_LOOK_SHARE), first + step)

    def _early(self) -> float:
        """Jitter that only brings a look forward: a look too early costs a retrieve, one too late detection."""
        return 1 - self.rng.uniform(0, self.jitter_fraction)

    def _jitter(self) -> float:
        return 1 + self.rng.uniform(-self.jitter_fraction, self.jitter_fraction)

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


def ladder_seconds_left(job: Job, now: datetime) -> float:
    """The ladder's estimate (the ETA served before render times were learned): the rate of progress since the
    first report, else the model's typical time."""
    if job.awaiting_storage:
        return 0.0
    if job.rendering_since is not None and job.progress > job.progress_baseline:
        elapsed = (now - job.rendering_since).total_seconds()
        if elapsed > 0:
            return max(0.0, elapsed * (100 - job.progress) / (job.progress - job.progress_baseline))
    return typical_render_seconds(job) * (100 - job.progress) / 100
