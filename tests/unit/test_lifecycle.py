"""The job state machine as pure functions: ordering, history, estimates, schedule bounds and timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sorajobs.config import Settings
from sorajobs.logic.lifecycle import (
    STORE_RECHECK_DELAY,
    IllegalTransition,
    apply_provider_video,
    new_pending_job,
    provider_rejection,
    transition_to_completed,
    transition_to_due_now,
    transition_to_failed,
    transition_to_reset,
    transition_to_store_requested,
    transition_to_submitted,
    transition_to_unscheduled,
)
from sorajobs.logic.render_times import PriorRenderTimes, estimate, prior
from sorajobs.logic.schedule import FIRST_LOOK_SHARE, PollSchedule
from sorajobs.logic.timeouts import timeout_error
from sorajobs.models.job import Job, JobError, JobStatus, StoredObject
from sorajobs.providers.base import ProviderState, ProviderVideo

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SETTINGS = Settings(jobs_table_name="t")
VIDEO = StoredObject(key="k", bytes=10, sha256="0" * 64, content_type="video/mp4")


def pending() -> Job:
    return new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=NOW
    )


def running(progress: int = 40, at: datetime = NOW) -> Job:
    submitted = transition_to_submitted(pending(), ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job
    return apply_provider_video(
        submitted, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=progress), at
    ).job


def test_submission_moves_pending_to_queued_with_the_provider_link():
    job = transition_to_submitted(pending(), ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job

    assert job.status is JobStatus.QUEUED and job.provider_video_id == "video_1"
    assert job.lease_until is None


def test_progress_never_decreases():
    job = running(60)

    after = apply_provider_video(job, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=20), NOW).job

    assert after.progress == 60


def test_a_report_about_another_video_is_ignored():
    job = running(40)

    after = apply_provider_video(job, ProviderVideo(id="video_old", state=ProviderState.FAILED), NOW)

    assert after.job.status is JobStatus.IN_PROGRESS and not after.changed


def test_provider_completion_waits_for_storage_and_asks_for_it():
    observed = apply_provider_video(
        running(), ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED, progress=100), NOW
    )

    assert observed.request_store
    assert observed.job.status is JobStatus.IN_PROGRESS and observed.job.awaiting_storage
    assert observed.job.progress == 100 and not observed.job.ready


def test_completion_requires_the_provider_to_have_finished():
    with pytest.raises(IllegalTransition):
        transition_to_completed(running(), VIDEO, None, NOW)


def test_a_completed_job_cannot_be_reset():
    awaiting = apply_provider_video(running(), ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW).job
    completed = transition_to_completed(awaiting, VIDEO, None, NOW).job

    with pytest.raises(IllegalTransition):
        transition_to_reset(completed, NOW, resubmit=True)


def test_a_terminal_job_ignores_later_provider_reports():
    awaiting = apply_provider_video(running(), ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW).job
    completed = transition_to_completed(awaiting, VIDEO, None, NOW).job

    after = apply_provider_video(completed, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=3), NOW)

    assert after.job.status is JobStatus.COMPLETED and not after.changed


def test_resubmitting_after_reset_starts_a_fresh_attempt_and_records_the_old_one():
    job = transition_to_reset(running(55), NOW + timedelta(minutes=1), resubmit=True).job

    assert job.status is JobStatus.PENDING and job.attempt == 2
    assert job.provider_video_id is None and job.progress == 0
    assert job.history[0].provider_video_id == "video_1" and job.history[0].progress == 55


def test_the_remaining_time_follows_the_observed_rate_of_progress():
    job = running(25, at=NOW)
    job = apply_provider_video(
        job, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=50), NOW + timedelta(seconds=30)
    ).job

    # 25 % in 30 s: 60 s to go at that rate, blended with the prior's time left.
    eta = estimate(job, NOW + timedelta(seconds=30), PriorRenderTimes())
    assert abs(eta.seconds - 60) <= 0.25 * 60 and eta.low <= eta.seconds <= eta.high


SCHEDULE = PollSchedule(min_seconds=5, max_seconds=120, jitter_fraction=0.1)


@pytest.mark.parametrize("progress", [0, 5, 50, 95, 99])
def test_the_poll_interval_stays_within_its_configured_bounds(progress):
    job = running(progress)
    bounded = PollSchedule(min_seconds=7, max_seconds=30)

    for later in (0, 10, 300, 3000):
        delay = bounded.delay(job, NOW + timedelta(seconds=later))
        assert timedelta(seconds=7) <= delay <= timedelta(seconds=30)


def test_a_job_is_polled_rarely_far_from_the_end_and_often_near_it():
    submitted = transition_to_submitted(pending(), ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job
    early = apply_provider_video(
        submitted, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=10), NOW + timedelta(seconds=10)
    ).job
    early = apply_provider_video(
        early, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=20), NOW + timedelta(seconds=20)
    ).job
    late = apply_provider_video(
        early, ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=95), NOW + timedelta(seconds=95)
    ).job

    far = SCHEDULE.delay(early, NOW + timedelta(seconds=20))
    near = SCHEDULE.delay(late, NOW + timedelta(seconds=95))

    assert far >= timedelta(seconds=40)  # about 80 s to go
    assert near == timedelta(seconds=5)  # 5 s to go at 1 % a second: the shortest interval


def test_a_freshly_submitted_job_is_first_looked_at_when_a_few_of_its_kind_would_have_finished():
    job = transition_to_submitted(pending(), ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job

    # No finished jobs yet: the catalog's typical time, widely spread; jitter only brings the look forward.
    first_look = prior(job).quantile(FIRST_LOOK_SHARE)
    assert 0.9 * first_look <= (job.next_poll_at - NOW).total_seconds() <= first_look


def test_a_larger_or_longer_clip_is_expected_to_take_longer():
    short = pending()
    long = short.model_copy(update={"seconds": "12", "size": "1792x1024", "model": "sora-2-pro"})

    assert estimate(long, NOW, PriorRenderTimes()).seconds > 5 * estimate(short, NOW, PriorRenderTimes()).seconds


def test_the_provider_poll_hint_is_a_floor_within_the_bounds():
    job = running(98)

    assert SCHEDULE.delay(job, NOW, provider_hint_seconds=20) == timedelta(seconds=20)
    assert SCHEDULE.delay(job, NOW, provider_hint_seconds=500) == timedelta(seconds=120)


def test_jitter_spreads_the_polls_of_identical_jobs():
    job = transition_to_submitted(pending(), ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job

    delays = {SCHEDULE.delay(job, NOW) for _ in range(20)}

    assert len(delays) > 1


def test_a_job_without_progress_for_the_stuck_limit_times_out():
    job = running(40)

    assert timeout_error(job, NOW + timedelta(seconds=SETTINGS.stuck_after_seconds - 1), SETTINGS) is None
    error = timeout_error(job, NOW + timedelta(seconds=SETTINGS.stuck_after_seconds + 1), SETTINGS)
    assert error is not None and error.code == "timeout"


def test_a_pending_job_times_out_only_at_the_maximum_age():
    job = pending()

    assert timeout_error(job, NOW + timedelta(seconds=SETTINGS.stuck_after_seconds + 1), SETTINGS) is None
    assert timeout_error(job, NOW + timedelta(seconds=SETTINGS.max_job_age_seconds + 1), SETTINGS) is not None


def test_a_job_is_polled_no_later_than_the_moment_it_would_time_out():
    # 20 % in the minute before NOW, 40 % at NOW (its last progress): 180 s to go, so the next look is far.
    job = apply_provider_video(
        running(20, at=NOW - timedelta(seconds=60)),
        ProviderVideo(id="video_1", state=ProviderState.RUNNING, progress=40),
        NOW,
    ).job
    schedule = PollSchedule(min_seconds=5, max_seconds=120, stuck_after_seconds=100, max_job_age_seconds=3600)

    assert schedule.delay(job, NOW + timedelta(seconds=90)) == timedelta(seconds=11)
    assert schedule.delay(job, NOW + timedelta(seconds=99)) == timedelta(seconds=5)
    assert PollSchedule(min_seconds=5, max_seconds=120).delay(job, NOW + timedelta(seconds=90)) > timedelta(seconds=11)


def test_every_transition_moves_the_version_on_by_one_and_stamps_its_event():
    job = running()

    change = apply_provider_video(job, ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW)

    assert change.job.version == job.version + 1
    assert change.job.event_sequence == job.event_sequence + 1 and change.job.last_event_type == "video.progress"


def test_a_store_request_sent_again_keeps_the_job_awaiting_storage_and_asks_for_the_store():
    awaiting = apply_provider_video(running(), ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW).job

    change = transition_to_store_requested(awaiting, NOW + STORE_RECHECK_DELAY)

    assert change.request_store and change.job.awaiting_storage
    assert change.job.next_poll_at == NOW + 2 * STORE_RECHECK_DELAY
    with pytest.raises(IllegalTransition):
        transition_to_store_requested(running(), NOW)


def test_only_a_finished_job_is_unscheduled_and_only_an_unfinished_one_made_due():
    failed = transition_to_failed(running(), JobError(code="x", message="y"), NOW).job

    assert transition_to_unscheduled(failed).job.next_poll_at is None
    assert transition_to_due_now(running(), NOW).job.next_poll_at == NOW
    with pytest.raises(IllegalTransition):
        transition_to_unscheduled(running())
    with pytest.raises(IllegalTransition):
        transition_to_due_now(failed, NOW)


@pytest.mark.parametrize("give_up", ["reset", "resubmit", "fail"])
def test_giving_up_on_an_attempt_whose_store_was_requested_releases_its_uploads(give_up):
    awaiting = apply_provider_video(running(), ProviderVideo(id="video_1", state=ProviderState.SUCCEEDED), NOW).job
    give_ups = {
        "reset": lambda job: transition_to_reset(job, NOW, resubmit=False),
        "resubmit": lambda job: transition_to_reset(job, NOW, resubmit=True),
        "fail": lambda job: transition_to_failed(job, JobError(code="timeout", message="late"), NOW),
    }

    assert give_ups[give_up](awaiting).release_uploads
    assert not give_ups[give_up](running()).release_uploads


def test_a_create_the_provider_refused_is_a_rejection_and_a_later_failure_is_not():
    refused = transition_to_failed(pending(), JobError(code="moderation_blocked", message="No."), NOW).job
    failed_later = transition_to_failed(running(), JobError(code="generation_failed", message="No."), NOW).job

    assert provider_rejection(refused) == JobError(code="moderation_blocked", message="No.")
    assert provider_rejection(failed_later) is None
