"""A provider's report about a generation, folded into the job: the raw next state, before the lifecycle
stamps it (see the package, whose transitions are the only way these states are written)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from sorajobs.logic.render_times import accepted_at
from sorajobs.logic.schedule import PollSchedule
from sorajobs.models.job import STATUS_RANK, UNFINISHED_STATUSES, ErrorCategory, Job, JobError, JobStatus
from sorajobs.models.render_times import RenderSample
from sorajobs.providers.base import ProviderState, ProviderVideo

logger = Logger(child=True)

# What each provider state means for the job; a cancelled or expired generation ends the job like a failure.
REPORTED_STATUSES = {
    ProviderState.QUEUED: JobStatus.QUEUED,
    ProviderState.RUNNING: JobStatus.IN_PROGRESS,
    ProviderState.SUCCEEDED: JobStatus.COMPLETED,
    ProviderState.FAILED: JobStatus.FAILED,
    ProviderState.CANCELLED: JobStatus.CANCELLED,
    ProviderState.EXPIRED: JobStatus.FAILED,
}
# The error a job ends with when the provider gave none.
DEFAULT_ERRORS = {
    ProviderState.FAILED: JobError(
        code="generation_failed",
        message="The provider failed the generation.",
        category=ErrorCategory.PROVIDER_INTERNAL,
    ),
    ProviderState.CANCELLED: JobError(
        code="cancelled_at_provider",
        message="The generation was cancelled at the provider.",
        category=ErrorCategory.CANCELLED,
    ),
    ProviderState.EXPIRED: JobError(
        code="content_expired",
        message="The provider no longer serves the generation.",
        category=ErrorCategory.PROVIDER_INTERNAL,
    ),
}
# A finished generation not stored by then is handed to the store step again by the sweep.
STORE_RECHECK_DELAY = timedelta(minutes=10)


class IllegalTransition(Exception):
    """The job's status does not allow the requested change."""


def require_status(job: Job, allowed: Collection[JobStatus], change: str) -> None:
    if job.status not in allowed:
        raise IllegalTransition(f"cannot {change} a job that is {job.status.value}")


def failed_job(job: Job, error: JobError, now: datetime, status: JobStatus = JobStatus.FAILED) -> Job:
    """The job ended without a video: failed, or cancelled."""
    require_status(job, UNFINISHED_STATUSES, "fail" if status is JobStatus.FAILED else "cancel")
    return job.model_copy(
        update={
            "status": status,
            "queue_position": None,
            "error": error,
            "updated_at": now,
            "next_poll_at": None,
            "lease_until": None,
            "admitted": False,
        }
    )


@dataclass(frozen=True)
class Observed:
    job: Job
    request_store: bool = False
    changed: bool = False
    detection_delay_seconds: float | None = None
    # How long the generation took at the provider, in each phase the report tells (learned from).
    render_samples: tuple[RenderSample, ...] = ()


def observe(job: Job, video: ProviderVideo, now: datetime, schedule: PollSchedule) -> Observed:
    """Folds one provider report into the job. An unknown provider status is logged and ignored; only
    the poll schedule moves on."""
    refreshed = job.model_copy(update={"last_refreshed_at": now, "lease_until": None})
    if not job.is_unfinished or video.id != job.provider_video_id:
        return Observed(job=refreshed)
    if video.state is None:
        logger.warning(
            "Ignoring unknown provider status",
            extra={"job_id": job.id, "provider_video_id": video.id, "provider_status": video.status},
        )
        return Observed(job=with_next_poll(refreshed, now, video.poll_after_seconds, schedule))
    reported = REPORTED_STATUSES[video.state]
    if job.awaiting_storage or STATUS_RANK[reported] < STATUS_RANK[job.status]:
        return Observed(job=with_next_poll(refreshed, now, video.poll_after_seconds, schedule))

    if reported in (JobStatus.FAILED, JobStatus.CANCELLED):
        error = video.error or DEFAULT_ERRORS[video.state]
        ended = failed_job(refreshed, error, now, reported).model_copy(update={"provider_status": video.state.value})
        return Observed(job=ended, changed=True)

    if reported is JobStatus.COMPLETED:
        awaiting = refreshed.model_copy(
            update={
                "status": JobStatus.IN_PROGRESS,
                "progress": 100,
                "queue_position": None,
                "provider_status": "completed",
                "updated_at": now,
                "last_progress_at": now,
                "store_requested_at": now,
                "rendering_since": job.rendering_since or now,
                "next_poll_at": now + STORE_RECHECK_DELAY,
                "admitted": False,  # the provider is done with it: its slot is free
            }
        )
        delay = now.timestamp() - video.completed_at if video.completed_at else None
        finished_at = now.timestamp() - (delay or 0.0)
        return Observed(
            job=awaiting,
            request_store=True,
            changed=True,
            detection_delay_seconds=delay,
            render_samples=_finished_samples(job, video, finished_at) + _queue_samples(job, video),
        )

    progress = max(job.progress, min(video.progress, 99))
    position = video.queue_position if reported is JobStatus.QUEUED else None
    moved = reported is not job.status or progress > job.progress or position != job.queue_position
    updates: dict[str, object] = {
        "status": reported,
        "progress": progress,
        "provider_status": video.status or video.state.value,
        "queue_position": position,
    }
    if reported is JobStatus.IN_PROGRESS and job.rendering_since is None:
        updates.update(rendering_since=now, progress_baseline=progress)
    if reported is JobStatus.IN_PROGRESS and job.provider_started_at is None and video.started_at is not None:
        updates.update(provider_started_at=_moment(video.started_at))
    if moved:
        updates.update(updated_at=now, last_progress_at=now)
    advanced = refreshed.model_copy(update=updates)
    return Observed(
        job=with_next_poll(advanced, now, video.poll_after_seconds, schedule),
        changed=moved,
        render_samples=_queue_samples(job, video) if reported is JobStatus.IN_PROGRESS else (),
    )


def _moment(unix_seconds: float) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


def _finished_samples(job: Job, video: ProviderVideo, finished_at: float) -> tuple[RenderSample, ...]:
    """A finished generation: its whole time from acceptance, and its rendering where the provider tells it. Nothing
    for a time that says nothing (a generation found finished as it was adopted, with no start time given)."""
    whole = finished_at - accepted_at(job).timestamp()
    samples = [RenderSample("whole", whole)] if whole > 0 else []
    started_at = video.started_at or (job.provider_started_at.timestamp() if job.provider_started_at else None)
    rendering = video.render_seconds
    if rendering is None and started_at is not None:
        rendering = finished_at - started_at
    if rendering is not None and rendering > 0:
        samples.append(RenderSample("rendering", rendering))
    return tuple(samples)


def _queue_samples(job: Job, video: ProviderVideo) -> tuple[RenderSample, ...]:
    """A job last seen queued, now known to have started: how long it waited from its acceptance, and, seen at a
    place in the queue, the seconds each place held it back from that look to its start."""
    if job.status is not JobStatus.QUEUED or video.started_at is None:
        return ()
    samples = [RenderSample("queue", max(0.0, video.started_at - accepted_at(job).timestamp()))]
    if job.queue_position is not None and job.last_refreshed_at is not None:
        waited = video.started_at - job.last_refreshed_at.timestamp()
        if waited > 0:
            samples.append(RenderSample("queue_place", waited / (job.queue_position + 1)))
    return tuple(samples)


def with_next_poll(job: Job, now: datetime, provider_hint_seconds: float | None, schedule: PollSchedule) -> Job:
    if not job.is_unfinished:
        return job
    return job.model_copy(update={"next_poll_at": now + schedule.delay(job, now, provider_hint_seconds)})
