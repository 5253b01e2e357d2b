"""The answer of `GET /videos/{id}/attempts`: every generation attempt of a job, the abandoned ones included."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from sorajobs.models.api import JobErrorResponse, UtcTimestamp
from sorajobs.models.job import AttemptRecord, Job, JobError, JobStatus


def _error(error: JobError | None) -> JobErrorResponse | None:
    if error is None:
        return None
    return JobErrorResponse(code=error.code, message=error.message, category=error.category)


class AttemptResponse(BaseModel):
    attempt: Annotated[int, Field(ge=1, description="1 for the first attempt; each reset with resubmit adds one.")]
    status: Annotated[JobStatus, Field(description="Where the attempt stood when it was abandoned, or stands now.")]
    progress: Annotated[int, Field(ge=0, le=100)]
    provider_video_id: Annotated[str | None, Field(description="The provider's generation, if it took one.")]
    started_at: UtcTimestamp
    ended_at: Annotated[UtcTimestamp | None, Field(description="When it was abandoned or finished; null while on.")]
    error: JobErrorResponse | None
    current: Annotated[bool, Field(description="The job's current attempt (what GET /videos/{id} shows).")]

    @classmethod
    def from_record(cls, record: AttemptRecord) -> AttemptResponse:
        return cls(
            attempt=record.attempt,
            status=record.status,
            progress=record.progress,
            provider_video_id=record.provider_video_id,
            started_at=record.started_at,
            ended_at=record.ended_at,
            error=_error(record.error),
            current=False,
        )

    @classmethod
    def current_of(cls, job: Job) -> AttemptResponse:
        ended_at = None if job.is_unfinished else (job.completed_at or job.updated_at)
        return cls(
            attempt=job.attempt,
            status=job.status,
            progress=job.progress,
            provider_video_id=job.provider_video_id,
            started_at=job.attempt_started_at,
            ended_at=ended_at,
            error=_error(job.error),
            current=True,
        )


class AttemptListResponse(BaseModel):
    job_id: str
    data: Annotated[list[AttemptResponse], Field(description="Oldest first; the last is the current attempt.")]

    @classmethod
    def from_job(cls, job: Job) -> AttemptListResponse:
        """A reset job's last attempt is already in its history (abandoned); any other job adds its current one."""
        attempts = [AttemptResponse.from_record(record) for record in job.history]
        if job.status is not JobStatus.RESET:
            attempts.append(AttemptResponse.current_of(job))
        return cls(job_id=job.id, data=attempts)
