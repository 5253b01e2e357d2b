"""The learned render times: how finishes move a kind's distribution, the ETA given that a job has not finished,
and the per-process copy of the learned sums."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from sorajobs.logic.lifecycle import apply_provider_video, new_pending_job, transition_to_submitted
from sorajobs.logic.render_times import (
    MIN_SIGMA,
    LearnedRenderTimes,
    PriorRenderTimes,
    estimate,
    learned,
    prior,
    seconds_left_by_progress,
)
from sorajobs.models.render_times import RenderKind, RenderSample, RenderTimeSums
from sorajobs.providers.base import ProviderState, ProviderVideo

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def queued(model: str = "sora-2"):
    pending = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model=model, seconds="4", size="720x1280", metadata={}, now=NOW
    )
    return transition_to_submitted(pending, ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job


def report(job, progress: int, seconds: float):
    video = ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=progress)
    return apply_provider_video(job, video, NOW + timedelta(seconds=seconds)).job


def sums_of(*seconds: float) -> RenderTimeSums:
    logs = [math.log(value) for value in seconds]
    return RenderTimeSums(len(logs), sum(logs), sum(value * value for value in logs))


class Given:
    """A lookup that answers one distribution for every job."""

    def __init__(self, distribution) -> None:
        self._distribution = distribution

    def distribution(self, job, phase="whole"):
        return self._distribution


class MemoryStore:
    def __init__(self) -> None:
        self.added: dict[RenderKind, list[float]] = {}
        self.reads = 0

    def add(self, kind: RenderKind, seconds: float) -> None:
        self.added.setdefault(kind, []).append(seconds)

    def sums(self, kind: RenderKind) -> RenderTimeSums:
        self.reads += 1
        return sums_of(*self.added.get(kind, []))


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


def test_without_finished_jobs_the_distribution_is_the_catalogs_typical_time():
    job = queued()

    assert learned(job, RenderTimeSums()) == prior(job)
    assert prior(job).quantile(0.5) == pytest.approx(90.0)


def test_twenty_finishes_move_the_median_to_what_this_deployment_sees_and_narrow_the_spread():
    job = queued()
    finishes = [60.0 + offset for offset in (-3, -2, -1, 0, 1, 2, 3) * 3][:20]

    distribution = learned(job, sums_of(*finishes))

    assert distribution.finished == 20
    assert distribution.quantile(0.5) == pytest.approx(60.0, rel=0.05)
    assert MIN_SIGMA <= distribution.sigma < prior(job).sigma / 2


def test_a_kind_far_from_its_prior_but_regular_is_learned_regular():
    job = queued("sora-2-pro")  # the catalog says about 300 s; this deployment sees 40 to 44 s
    finishes = [40.0 + offset for offset in range(5)] * 10

    distribution = learned(job, sums_of(*finishes))

    # The prior's own spread still counts as two finishes, but not its distance from what is seen.
    expected = math.sqrt((2 * prior(job).sigma ** 2 + sum((math.log(x) - distribution.mu) ** 2 for x in finishes)) / 52)
    assert distribution.sigma == pytest.approx(expected)
    assert distribution.sigma < 0.15  # about 0.4 were the distance from the prior counted as spread


def test_identical_finishes_never_make_the_spread_smaller_than_the_floor():
    distribution = learned(queued(), sums_of(*[60.0] * 500))

    assert distribution.sigma == MIN_SIGMA


def test_the_time_left_given_that_the_job_is_still_running_shrinks_but_never_reaches_zero():
    distribution = learned(queued(), sums_of(*[60.0] * 50))

    left_at = {elapsed: distribution.quantile_after(elapsed, 0.5) - elapsed for elapsed in (0, 30, 60, 120)}

    assert left_at[0] == pytest.approx(60.0, rel=0.02)
    assert left_at[0] > left_at[30] > left_at[60] > 0 and left_at[120] > 0


def test_a_queued_jobs_eta_is_the_learned_median_with_the_range_around_it():
    job = queued()
    distribution = learned(job, sums_of(*[50.0, 55.0, 60.0, 65.0, 70.0] * 4))

    eta = estimate(job, NOW, Given(distribution))

    assert eta is not None and eta.low < eta.seconds < eta.high
    assert eta.seconds == pytest.approx(60.0, rel=0.05)


def test_two_progress_reports_give_a_measured_rate_that_dominates_the_eta():
    job = report(report(queued(), 10, 10), 30, 30)  # 20 % in 20 s: 70 s to go

    left, measured = seconds_left_by_progress(job, NOW + timedelta(seconds=30))
    eta = estimate(job, NOW + timedelta(seconds=30), Given(learned(job, sums_of(*[200.0] * 30))))

    assert measured and left == pytest.approx(70.0)
    assert eta is not None and abs(eta.seconds - 70) < abs(eta.seconds - 170)  # the rate, not the history


def test_one_progress_report_bounds_the_time_left_from_the_acceptance():
    job = report(queued(), 50, 40)  # half done 40 s after acceptance: at most 40 s to go

    left, measured = seconds_left_by_progress(job, NOW + timedelta(seconds=40))

    assert not measured and left == pytest.approx(40.0)


def test_an_ended_job_has_no_eta_and_one_being_stored_has_zero():
    job = queued()
    stored = apply_provider_video(job, ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW).job
    failed = apply_provider_video(job, ProviderVideo(id="video_1", state=ProviderState.FAILED), NOW).job

    assert estimate(stored, NOW, PriorRenderTimes()).seconds == 0
    assert estimate(failed, NOW, PriorRenderTimes()) is None


def test_a_finish_is_recorded_and_counts_in_this_process_at_once():
    store, clock = MemoryStore(), Clock()
    render_times = LearnedRenderTimes(store, clock, refresh_seconds=300)
    job = queued()
    before = render_times.distribution(job)

    for _ in range(20):
        render_times.record(job, RenderSample("whole", 30.0))

    assert store.added[RenderKind("openai", "sora-2", "4", "720x1280")] == [30.0] * 20
    assert store.reads == 1  # the copy was read once, then added to
    assert render_times.distribution(job).quantile(0.5) < before.quantile(0.5) / 2


def test_the_copy_is_read_again_after_its_refresh_time():
    store, clock = MemoryStore(), Clock()
    render_times = LearnedRenderTimes(store, clock, refresh_seconds=300)
    job = queued()
    render_times.distribution(job)
    store.add(RenderKind("openai", "sora-2", "4", "720x1280"), 30.0)  # another process's finish

    assert render_times.distribution(job).finished == 0
    clock.moment += timedelta(seconds=301)
    assert render_times.distribution(job).finished == 1


def test_a_store_that_fails_costs_only_accuracy():
    class Broken(MemoryStore):
        def add(self, kind, seconds):
            raise RuntimeError("throttled")

        def sums(self, kind):
            raise RuntimeError("throttled")

    render_times = LearnedRenderTimes(Broken(), Clock())
    job = queued()

    render_times.record(job, RenderSample("whole", 30.0))

    assert render_times.distribution(job) == prior(job)


def test_a_lost_create_adopted_later_counts_its_render_time_from_the_providers_own_start():
    pending = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=NOW
    )
    started = int((NOW - timedelta(seconds=50)).timestamp())
    found = ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=50, created_at=started)

    job = transition_to_submitted(pending, found, NOW).job
    done = ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED, completed_at=int(NOW.timestamp()) + 40)
    change = apply_provider_video(job, done, NOW + timedelta(seconds=45))

    assert job.provider_accepted_at == NOW - timedelta(seconds=50)
    [whole] = change.render_samples
    assert whole.phase == "whole" and whole.seconds == pytest.approx(90)


def test_a_generation_found_already_finished_with_no_start_time_teaches_nothing():
    pending = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=NOW
    )

    change = transition_to_submitted(pending, ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW)

    assert change.request_store and change.render_samples == ()
