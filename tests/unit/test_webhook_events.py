"""Which job writes produce a webhook event, and the event they produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sorajobs.logic.lifecycle import new_pending_job
from sorajobs.logic.lifecycle.events import event_type_for_change, produced_event, stamp_event, webhook_event_id
from sorajobs.models.job import Job, JobStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def pending() -> Job:
    job = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=NOW
    )
    return stamp_event(None, job)


def moved(job: Job, seconds: float, **changes: object) -> Job:
    return stamp_event(
        job, job.model_copy(update={"updated_at": job.updated_at + timedelta(seconds=seconds), **changes})
    )


def rendering(progress: int = 10) -> Job:
    queued = moved(pending(), 1, status=JobStatus.QUEUED)
    return moved(queued, 1, status=JobStatus.IN_PROGRESS, progress=progress)


def test_a_new_pending_job_has_no_event_and_submission_is_the_first():
    job = pending()
    queued = moved(job, 1, status=JobStatus.QUEUED)

    assert job.event_sequence == 0 and job.last_event_type is None
    assert (queued.event_sequence, queued.last_event_type) == (1, "video.queued")


def test_each_status_change_produces_its_event_with_the_next_sequence():
    job = rendering()
    completed = moved(job, 30, status=JobStatus.COMPLETED, progress=100)

    assert (job.event_sequence, job.last_event_type) == (2, "video.in_progress")
    assert (completed.event_sequence, completed.last_event_type) == (3, "video.completed")


def test_progress_within_10_seconds_and_10_points_produces_no_event():
    job = rendering(10)
    small = moved(job, 9, progress=19)

    assert small.event_sequence == job.event_sequence
    assert small.last_event_progress == 10  # the throttle measures from the last event, not the last write


def test_progress_of_10_points_or_after_10_seconds_produces_an_event():
    job = rendering(10)
    jump = moved(job, 1, progress=20)
    later = moved(job, 10, progress=11)

    assert (jump.event_sequence, jump.last_event_type) == (job.event_sequence + 1, "video.progress")
    assert (later.event_sequence, later.last_event_type) == (job.event_sequence + 1, "video.progress")


def test_a_write_without_a_change_keeps_the_bookkeeping():
    job = rendering(10)
    polled = moved(job, 30, last_refreshed_at=NOW)

    assert (polled.event_sequence, polled.last_event_type, polled.last_event_at) == (
        job.event_sequence,
        job.last_event_type,
        job.last_event_at,
    )


def test_a_reset_that_starts_a_new_attempt_is_a_reset_event():
    failed = moved(rendering(), 5, status=JobStatus.FAILED)
    restarted = stamp_event(failed, failed.model_copy(update={"status": JobStatus.PENDING, "attempt": 2}))

    assert event_type_for_change(failed, restarted) is not None
    assert restarted.last_event_type == "video.reset"


def test_the_event_carries_the_job_json_and_a_stable_id():
    before = pending()
    after = moved(before, 1, status=JobStatus.QUEUED)

    event = produced_event(before, after)

    assert event is not None
    assert event.id == webhook_event_id("job_1", 1) == produced_event(before, after).id  # type: ignore[union-attr]
    assert event.sequence == 1 and event.data.id == "job_1" and event.data.status is JobStatus.QUEUED
    assert produced_event(after, moved(after, 1, last_refreshed_at=NOW)) is None
