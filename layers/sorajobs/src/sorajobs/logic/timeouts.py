"""When an unfinished job counts as stuck: past its maximum age, or without progress for too long."""

from __future__ import annotations

from datetime import datetime, timedelta

from sorajobs.config import Settings
from sorajobs.models.job import Job, JobError, JobStatus


def timeout_error(job: Job, now: datetime, settings: Settings) -> JobError | None:
    """Why an unfinished job counts as stuck, or None while it is healthy.

    A job whose generation the provider has finished is never timed out: the video is made and paid for,
    and only our copy of it is pending. The sweep re-sends its store request until it is stored, or until
    the provider no longer serves it (the store step then fails it with `content_expired`).
    """
    if not job.is_unfinished or job.awaiting_storage:
        return None
    age = now - job.attempt_started_at
    if age > timedelta(seconds=settings.max_job_age_seconds):
        return JobError(
            code="timeout",
            message=f"The job did not finish within the maximum age of {settings.max_job_age_seconds} s.",
        )
    stalled = now - job.last_progress_at
    if job.status is not JobStatus.PENDING and stalled > timedelta(seconds=settings.stuck_after_seconds):
        return JobError(
            code="timeout", message=f"The generation made no progress for {settings.stuck_after_seconds} s."
        )
    return None
