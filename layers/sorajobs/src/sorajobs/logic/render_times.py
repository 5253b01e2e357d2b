"""How long a job's generation will take, learned from this deployment's finished jobs, and what follows from it:
the job's ETA (a point and a range) and when to ask the provider next.

A kind of job (provider, model, clip seconds, size) has a log-normal distribution of the seconds its generations
take at the provider, from acceptance to finish. Before any has finished, it is the catalog's typical time with a
wide spread; each finish moves it towards what this deployment sees (`RenderTimeSums`), the prior counting as
`PRIOR_WEIGHT` finishes. A job's ETA is that distribution given that the job has not finished yet, blended, once
the provider reports progress, with the rate of that progress.

A provider that reports no progress (fal, which says where a request waits in its queue and when its rendering
began) is learned in phases as well (`RenderPhase`): the wait in its queue (in all, and per place ahead) and the
rendering from its start. A queued job's ETA is then its wait (by its place, or in all: whichever is learned the
more regular) plus the rendering; a rendering job's is the rendering, given the time since it started.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Protocol

from sorajobs.catalog import CAPABILITIES
from sorajobs.clock import Clock
from sorajobs.models.job import Job, JobStatus
from sorajobs.models.render_times import Eta, RenderKind, RenderPhase, RenderSample, RenderTimeSums

logger = logging.getLogger(__name__)

# Typical seconds of a 4 s clip at the smaller sizes (the prior); longer clips and larger sizes scale it.
TYPICAL_RENDER_SECONDS = {"sora-2": 90.0, "sora-2-pro": 300.0}
DEFAULT_RENDER_SECONDS = 120.0
LARGE_SIZES = frozenset({"1024x1792", "1792x1024"})
LARGE_SIZE_FACTOR = 1.5
# The prior counts as this many finished jobs, with this spread of ln(seconds) (a factor of about 1.65).
PRIOR_WEIGHT = 2.0
PRIOR_SIGMA = 0.5
# Before any is learned, a request is taken to wait in a provider's queue this long, per place ahead of it or in
# all, with a wide spread (a factor of about 2.7).
QUEUE_PLACE_PRIOR_SECONDS = 10.0
QUEUE_PLACE_PRIOR_SIGMA = 1.0
# The ETA's point and range: these quantiles of what is left.
ETA_SHARES = (0.1, 0.5, 0.9)
# No kind is ever taken to be more regular than this (a 5 % spread).
MIN_SIGMA = 0.05
# Once the provider reports progress, its rate counts this much in the ETA against the learned distribution:
# a rate measured between two reports, and one bounded from a single report.
MEASURED_RATE_WEIGHT = 0.9
BOUNDED_RATE_WEIGHT = 0.5
# A job that has taken longer than its kind ever does is expected to take this share of the median more.
OVERDUE_SHARE = 0.1
# The learned sums of a kind are read again after this long (each process keeps its own copy).
REFRESH_SECONDS = 300.0
_QUANTILE_EDGE = 1e-6


def typical_render_seconds(job: Job) -> float:
    base = TYPICAL_RENDER_SECONDS.get(job.model, DEFAULT_RENDER_SECONDS) * int(job.seconds) / 4
    return base * (LARGE_SIZE_FACTOR if job.size in LARGE_SIZES else 1.0)


def kind_of(job: Job, phase: RenderPhase = "whole") -> RenderKind:
    return RenderKind(job.provider, job.model, job.seconds, job.size, phase)


def learns_phases(job: Job) -> bool:
    """Its provider reports no progress (fal): its wait and its rendering are learned apart instead, from when it is
    seen to start (the start the provider gives, where it does) and from its place in the queue, where it says."""
    return not CAPABILITIES[job.provider].progress


@dataclass(frozen=True)
class RenderTimeDistribution:
    """Seconds from the provider's acceptance to its finish: ln(seconds) ~ Normal(mu, sigma)."""

    mu: float
    sigma: float
    finished: int  # how many finished jobs of the kind it learned from

    def quantile(self, share: float) -> float:
        share = min(1 - _QUANTILE_EDGE, max(_QUANTILE_EDGE, share))
        return math.exp(NormalDist(self.mu, self.sigma).inv_cdf(share))

    def share_done_by(self, seconds: float) -> float:
        return 0.0 if seconds <= 0 else NormalDist(self.mu, self.sigma).cdf(math.log(seconds))

    def quantile_after(self, elapsed: float, share: float) -> float:
        """The `share`-quantile of the time taken, given that it is longer than `elapsed`. A job past everything
        its kind has taken is given a share of the median still to go (its median: OVERDUE_SHARE of it), never 0."""
        done = self.share_done_by(elapsed)
        overdue = elapsed + 2 * share * OVERDUE_SHARE * self.quantile(0.5)
        return max(overdue, self.quantile(done + share * (1 - done)))

    def left_after(self, elapsed: float, share: float) -> float:
        """The `share`-quantile of the seconds still to go, `elapsed` having gone by without the end."""
        return self.quantile_after(elapsed, share) - elapsed

    def times(self, factor: float) -> RenderTimeDistribution:
        """The distribution of `factor` times these seconds (a request `factor` places back in a queue)."""
        return RenderTimeDistribution(self.mu + math.log(factor), self.sigma, self.finished)


def prior(job: Job, phase: RenderPhase = "whole") -> RenderTimeDistribution:
    if phase in ("queue", "queue_place"):
        return RenderTimeDistribution(math.log(QUEUE_PLACE_PRIOR_SECONDS), QUEUE_PLACE_PRIOR_SIGMA, 0)
    return RenderTimeDistribution(math.log(typical_render_seconds(job)), PRIOR_SIGMA, 0)


def learned(job: Job, sums: RenderTimeSums, phase: RenderPhase = "whole") -> RenderTimeDistribution:
    """The prior moved by what finished: the mean and spread of ln(seconds), the prior weighing PRIOR_WEIGHT.

    The spread is the prior's, weighing as much, pooled with the finishes' own spread about the new mean. How far
    the catalog's typical time lay from what this deployment sees is not a spread of its times: counted in, it
    would widen a kind far more regular than its prior for hundreds of finishes (a factor of 3.5 between the two
    still widens the spread by 0.25 after 50)."""
    start = prior(job, phase)
    weight = PRIOR_WEIGHT + sums.count
    mu = (PRIOR_WEIGHT * start.mu + sums.log_sum) / weight
    deviations = sums.log_square_sum - 2 * mu * sums.log_sum + sums.count * mu * mu  # Σ (ln seconds - mu)²
    sigma = math.sqrt(max(PRIOR_WEIGHT * start.sigma**2 + deviations, 0.0) / weight)
    return RenderTimeDistribution(mu, max(sigma, MIN_SIGMA), sums.count)


def accepted_at(job: Job) -> datetime:
    """When the provider took the generation (jobs stored before this was kept: when their attempt started)."""
    return job.provider_accepted_at or job.attempt_started_at


def progress_rate(job: Job) -> tuple[float, bool] | None:
    """Points of progress a second, as the provider reported them, and whether that rate is measured between
    two reports (True) or only bounded from one (False: rendering is taken to have started at acceptance,
    which can only make the rate lower). None without progress."""
    if job.status is not JobStatus.IN_PROGRESS or job.progress <= 0 or job.progress >= 100:
        return None
    seen_at = job.last_progress_at
    if job.rendering_since is not None and job.progress > job.progress_baseline and seen_at > job.rendering_since:
        span = (seen_at - job.rendering_since).total_seconds()
        return (job.progress - job.progress_baseline) / span, True
    span = (seen_at - accepted_at(job)).total_seconds()
    return (job.progress / span, False) if span > 0 else None


def seconds_left_at(job: Job, now: datetime, rate: float) -> float:
    """Seconds left at `rate` points a second from the job's last reported progress."""
    return max(0.0, (100 - job.progress) / rate - (now - job.last_progress_at).total_seconds())


def seconds_left_by_progress(job: Job, now: datetime) -> tuple[float, bool] | None:
    """Seconds left at the rate of progress (`progress_rate`), and whether that rate is measured."""
    by_rate = progress_rate(job)
    if by_rate is None:
        return None
    rate, measured = by_rate
    return seconds_left_at(job, now, rate), measured


def estimate(job: Job, now: datetime, render_times: RenderTimeLookup) -> Eta | None:
    """The job's ETA: None once it has ended; 0 while its finished video is being stored (neither reads the
    learned render times)."""
    if not job.is_unfinished:
        return None
    if job.awaiting_storage:
        return Eta(0, 0, 0)
    phased = seconds_left_by_phases(job, now, render_times)
    if phased is not None:
        low, mid, high = phased
        return Eta(round(mid), round(low), round(high))
    distribution = render_times.distribution(job)
    if job.status is JobStatus.PENDING:  # not at the provider yet: the whole generation lies ahead
        low, mid, high = (distribution.quantile(share) for share in ETA_SHARES)
    else:
        elapsed = max(0.0, (now - accepted_at(job)).total_seconds())
        low, mid, high = (distribution.left_after(elapsed, share) for share in ETA_SHARES)
        by_progress = seconds_left_by_progress(job, now)
        if by_progress is not None:
            rate_left, measured = by_progress
            weight = MEASURED_RATE_WEIGHT if measured else BOUNDED_RATE_WEIGHT
            mid = weight * rate_left + (1 - weight) * mid
            low = min(mid, weight * rate_left + (1 - weight) * low)
            high = max(mid, weight * rate_left + (1 - weight) * high)
    return Eta(round(mid), round(low), round(high))


def rendering_started_at(job: Job) -> datetime:
    """When the job began rendering: as the provider says, else when it was first seen rendering (a bound), else
    (not yet seen rendering) its acceptance."""
    return job.provider_started_at or job.rendering_since or accepted_at(job)


def queue_wait(job: Job, render_times: RenderTimeLookup) -> tuple[RenderTimeDistribution, datetime] | None:
    """A queued job: the seconds until it starts, and the moment they count from. Seen at a place in the queue,
    the learned wait per place times the places up to its turn, from that look; or the learned wait in all, from
    its acceptance, where this deployment's own jobs show that one more regular (a queue whose places do not
    hold a request back, such as one with a runner free for each, makes the wait per place the wider)."""
    if job.status is not JobStatus.QUEUED:
        return None
    whole_wait = render_times.distribution(job, "queue"), accepted_at(job)
    if job.queue_position is None or job.last_refreshed_at is None:
        return whole_wait
    place = render_times.distribution(job, "queue_place")
    if whole_wait[0].sigma < place.sigma:
        return whole_wait
    return place.times(job.queue_position + 1), job.last_refreshed_at


@dataclass(frozen=True)
class PhaseStanding:
    """Where a job of a provider learned in phases stands: its rendering's learned distribution; while queued, its
    wait's (`queue_wait`); and the seconds gone by in the phase it is in, counted from the moment that phase's
    distribution counts from (the look that saw its place, or its acceptance, while queued; its start, rendering)."""

    rendering: RenderTimeDistribution
    queue: RenderTimeDistribution | None
    elapsed: float


def phase_standing(job: Job, now: datetime, render_times: RenderTimeLookup) -> PhaseStanding:
    """The ETA and the schedule both read a phased job through this, so both count its time from the same moment."""
    rendering = render_times.distribution(job, "rendering")
    waiting = queue_wait(job, render_times)
    if waiting is None:
        return PhaseStanding(rendering, None, max(0.0, (now - rendering_started_at(job)).total_seconds()))
    queue, seen_at = waiting
    return PhaseStanding(rendering, queue, max(0.0, (now - seen_at).total_seconds()))


def seconds_left_by_phases(
    job: Job, now: datetime, render_times: RenderTimeLookup
) -> tuple[float, float, float] | None:
    """For a job at a provider learned in phases (`learns_phases`), the seconds left (10th, 50th, 90th percentile):
    a rendering job's, from the rendering learned apart, given the time since it started; a queued one's, its
    wait (`queue_wait`) plus the whole rendering (quantile by quantile: an approximate range). None otherwise."""
    if not learns_phases(job) or job.status is JobStatus.PENDING:
        return None
    standing = phase_standing(job, now, render_times)
    rendering, queue, elapsed = standing.rendering, standing.queue, standing.elapsed
    if queue is None:
        low, mid, high = (rendering.left_after(elapsed, share) for share in ETA_SHARES)
    else:
        low, mid, high = (queue.left_after(elapsed, share) + rendering.quantile(share) for share in ETA_SHARES)
    return low, mid, high


class RenderTimeLookup(Protocol):
    def distribution(self, job: Job, phase: RenderPhase = "whole") -> RenderTimeDistribution: ...


class PriorRenderTimes:
    """The catalog's typical times only: for what has no access to the learned ones."""

    def distribution(self, job: Job, phase: RenderPhase = "whole") -> RenderTimeDistribution:
        return prior(job, phase)


class RenderTimeStore(Protocol):
    def add(self, kind: RenderKind, seconds: float) -> None: ...

    def sums(self, kind: RenderKind) -> RenderTimeSums: ...


class LearnedRenderTimes:
    """The learned distributions, read through a per-process copy refreshed every REFRESH_SECONDS; a finish seen
    here adds to the copy at once. A failed read or write is logged and costs only accuracy."""

    def __init__(self, store: RenderTimeStore, clock: Clock, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._copies: dict[RenderKind, tuple[RenderTimeSums, float]] = {}
        self._lock = threading.Lock()

    def distribution(self, job: Job, phase: RenderPhase = "whole") -> RenderTimeDistribution:
        return learned(job, self._sums(kind_of(job, phase)), phase)

    def record(self, job: Job, sample: RenderSample) -> None:
        """A generation of `job`'s kind took `sample.seconds` in `sample.phase` (the whole: from its acceptance to
        its finish at the provider)."""
        kind = kind_of(job, sample.phase)
        seconds = sample.seconds
        try:
            self._store.add(kind, seconds)
        except Exception:  # the estimate only gets less sharp; the job itself is unaffected
            logger.exception("Could not record a render time", extra={"job_id": job.id})
            return
        with self._lock:
            copy = self._copies.get(kind)
            if copy is not None:
                sums, read_at = copy
                self._copies[kind] = (sums.adding(seconds), read_at)

    def _sums(self, kind: RenderKind) -> RenderTimeSums:
        now = self._clock.now().timestamp()
        with self._lock:
            copy = self._copies.get(kind)
        if copy is not None and now - copy[1] < self._refresh_seconds:
            return copy[0]
        try:
            sums = self._store.sums(kind)
        except Exception:
            logger.exception("Could not read the render times", extra={"kind": kind.key})
            return copy[0] if copy is not None else RenderTimeSums()
        with self._lock:
            self._copies[kind] = (sums, now)
        return sums
