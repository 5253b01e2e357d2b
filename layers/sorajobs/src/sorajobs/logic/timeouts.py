"""When an unfinished job counts as stuck: past its maximum age, or without progress for too long."""

from __future__ import annotations

from datetime import datetime, timedelta

from sorajobs.config import Settings
from sorajobs.models.job import Job, JobError, JobStatus


def timeout_error(job: Job, now: datetime, settings: Settings) -> JobError | None:
    """Why an unfinished job counts as stuck, or None while it is healthy."""
    if not job.is_unfinished:
        return None
    age = now - job.attempt_started_at
    if age > timedelta(seconds=settings.max_job_age_seconds):
        return JobError(
            code="timeout",
            message=f"The job did not finish within the maximum age of {settings.max_job_age_seconds} s.",
        )
    stalled = now - job.last_progress_at
    if (
        job.status is not JobStatus.PENDING
        and not job.awaiting_storage
        and stalled > timedelta(seconds=settings.stuck_after_seconds)
    ):
        return JobError(
            code="timeout", message=f"The generation made no progress for {settings.stuck_after_seconds} s."
        )
    return None
