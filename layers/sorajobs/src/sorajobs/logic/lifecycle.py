"""The job state machine: pure functions from (job, observation, now) to the job's next state.

Each transition names the statuses it may leave; the repository writes the result with a condition
on the status and version that were read, so racing writers never double-apply a change.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from sorajobs.config import Settings
from sorajobs.logic.schedule import PollSchedule
from sorajobs.models.job import (
    STATUS_RANK,
    UNFINISHED_STATUSES,
    AttemptRecord,
    Job,
    JobError,
    JobStatus,
    StoredObject,
)
from sorajobs.providers.base import ProviderVideo

logger = Logger(child=True)

PROVIDER_STATUSES = {
    "queued": JobStatus.QUEUED,
    "in_progress": JobStatus.IN_PROGRESS,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
}
# After a temporary provider fault without Retry-After, the job is asked about again this much later.
FAULT_RETRY_DELAY = timedelta(seconds=15)
DEFAULT_SCHEDULE = PollSchedule()
SUBMIT_RETRY_DELAY = timedelta(seconds=30)
# A finished generation not stored by then is handed to the store step again by the sweep.
STORE_RECHECK_DELAY = timedelta(minutes=10)
# Whoever creates a pending job holds it this long, so the sweep never submits it a second time meanwhile.
SUBMIT_LEASE = timedelta(seconds=90)


class IllegalTransition(Exception):
    """The job's status does not allow the requested change."""


def _require_status(job: Job, allowed: Collection[JobStatus], change: str) -> None:
    if job.status not in allowed:
        raise IllegalTransition(f"cannot {change} a job that is {job.status.value}")


@dataclass(frozen=True)
class Observation:
    """The result of applying what the provider said: the next job state and what to do next."""

    job: Job
    request_store: bool = False
    changed: bool = False
    # Seconds from the provider finishing to this observation of it, when the provider said when.
    detection_delay_seconds: float | None = None


def new_pending_job(
    *,
    job_id: str,
    owner: str,
    prompt: str,
    model: str,
    seconds: str,
    size: str,
    metadata: dict[str, str],
    now: datetime,
    estimated_cost_cents: int = 0,
    webhook_url: str | None = None,
) -> Job:
    return Job.model_validate(
        {
            "id": job_id,
            "webhook_url": webhook_url,
            "owner": owner,
            "status": JobStatus.PENDING,
            "prompt": prompt,
            "model": model,
            "seconds": seconds,
            "size": size,
            "metadata": metadata,
            "estimated_cost_cents": estimated_cost_cents,
            "created_at": now,
            "updated_at": now,
            "attempt_started_at": now,
            "last_progress_at": now,
            "next_poll_at": now + SUBMIT_RETRY_DELAY,
            "lease_until": now + SUBMIT_LEASE,
        }
    )


def transition_to_submitted(
    job: Job, video: ProviderVideo, now: datetime, schedule: PollSchedule = DEFAULT_SCHEDULE
) -> Observation:
    """pending → queued: the provider accepted the generation; then apply whatever else it reported."""
    _require_status(job, {JobStatus.PENDING}, "submit")
    submitted = job.model_copy(
        update={
            "status": JobStatus.QUEUED,
            "provider_video_id": video.id,
            "provider_status": "queued",
            "updated_at": now,
            "last_progress_at": now,
            "last_refreshed_at": now,
            "next_poll_at": None,
            "lease_until": None,
            "create_started_at": None,
        }
    )
    observed = apply_provider_video(submitted, video, now, schedule)
    return Observation(job=observed.job, request_store=observed.request_store, changed=True)


def transition_to_creating(job: Job, now: datetime) -> Job:
    """pending stays pending, marked as having a paid create on its way to the provider."""
    _require_status(job, {JobStatus.PENDING}, "create a generation for")
    return job.model_copy(update={"create_started_at": now})


def transition_to_admitted(job: Job) -> Job:
    """pending → pending holding a provider slot: the admission step before the paid create."""
    _require_status(job, {JobStatus.PENDING}, "admit")
    return job.model_copy(update={"admitted": True})


def transition_to_awaiting_admission(job: Job) -> Job:
    """pending stays pending without a slot, due at once in first-come order, for the sweep to submit."""
    _require_status(job, {JobStatus.PENDING}, "queue")
    return job.model_copy(update={"admitted": False, "next_poll_at": job.attempt_started_at, "lease_until": None})


def transition_to_submit_retry(job: Job, now: datetime, retry_after: float | None) -> Job:
    """pending stays pending: the provider was unreachable or rate-limited; the sweep submits later."""
    _require_status(job, {JobStatus.PENDING}, "retry the submission of")
    delay = max(SUBMIT_RETRY_DELAY, timedelta(seconds=retry_after or 0))
    return job.model_copy(update={"next_poll_at": now + delay, "lease_until": None, "admitted": False})


def transition_to_failed(job: Job, error: JobError, now: datetime) -> Job:
    """Any unfinished status → failed (provider failure, rejection, timeout or lost video)."""
    _require_status(job, UNFINISHED_STATUSES, "fail")
    return job.model_copy(
        update={
            "status": JobStatus.FAILED,
            "error": error,
            "updated_at": now,
            "next_poll_at": None,
            "lease_until": None,
            "admitted": False,
        }
    )


def transition_to_completed(job: Job, video: StoredObject, thumbnail: StoredObject | None, now: datetime) -> Job:
    """in_progress (provider done, awaiting storage) → completed: the video is in S3 and verified."""
    _require_status(job, {JobStatus.IN_PROGRESS}, "complete")
    if not job.awaiting_storage:
        raise IllegalTransition("the provider has not reported this generation as completed")
    return job.model_copy(
        update={
            "status": JobStatus.COMPLETED,
            "progress": 100,
            "video": video,
            "thumbnail": thumbnail,
            "completed_at": now,
            "updated_at": now,
            "last_progress_at": now,
            "next_poll_at": None,
            "lease_until": None,
            "error": None,
        }
    )


def transition_to_reset(job: Job, now: datetime, *, resubmit: bool, attempt_cost_cents: int = 0) -> Job:
    """Any status but completed → reset (or straight to pending for a new attempt).

    The abandoned attempt is kept in the job's history and the provider link is cleared; a new attempt
    adds its estimated cost to the job's.
    """
    _require_status(job, set(JobStatus) - {JobStatus.COMPLETED}, "reset")
    history = job.history
    if job.status is not JobStatus.RESET:
        history = (
            *history,
            AttemptRecord(
                attempt=job.attempt,
                provider_video_id=job.provider_video_id,
                status=job.status,
                progress=job.progress,
                error=job.error,
                started_at=job.attempt_started_at,
                ended_at=now,
            ),
        )
    base = {
        "history": history,
        "provider_video_id": None,
        "provider_status": None,
        "progress": 0,
        "error": None,
        "updated_at": now,
        "lease_until": None,
        "store_requested_at": None,
        "create_started_at": None,
        "rendering_since": None,
        "last_refreshed_at": None,
        "admitted": False,
    }
    if not resubmit:
        return job.model_copy(update={**base, "status": JobStatus.RESET, "next_poll_at": None})
    return job.model_copy(
        update={
            **base,
            "status": JobStatus.PENDING,
            "attempt": job.attempt + 1,
            "attempt_started_at": now,
            "last_progress_at": now,
            "next_poll_at": now + SUBMIT_RETRY_DELAY,
            "lease_until": now + SUBMIT_LEASE,
            "estimated_cost_cents": job.estimated_cost_cents + attempt_cost_cents,
        }
    )


def apply_provider_video(
    job: Job, video: ProviderVideo, now: datetime, schedule: PollSchedule = DEFAULT_SCHEDULE
) -> Observation:
    """Folds one provider report into the job. It never moves a job backwards.

    An unknown provider status is logged and ignored; only the poll schedule moves on.
    """
    refreshed = job.model_copy(update={"last_refreshed_at": now, "lease_until": None})
    if not job.is_unfinished or video.id != job.provider_video_id:
        return Observation(job=refreshed)
    reported = PROVIDER_STATUSES.get(video.status)
    if reported is None:
        logger.warning(
            "Ignoring unknown provider status",
            extra={"job_id": job.id, "provider_video_id": video.id, "provider_status": video.status},
        )
        return Observation(job=_with_next_poll(refreshed, now, video.poll_after_seconds, schedule))
    if job.awaiting_storage or STATUS_RANK[reported] < STATUS_RANK[job.status]:
        return Observation(job=_with_next_poll(refreshed, now, video.poll_after_seconds, schedule))

    if reported is JobStatus.FAILED:
        error = video.error or JobError(code="generation_failed", message="The provider failed the generation.")
        failed = transition_to_failed(refreshed, error, now)
        return Observation(job=failed.model_copy(update={"provider_status": "failed"}), changed=True)

    if reported is JobStatus.COMPLETED:
        awaiting = refreshed.model_copy(
            update={
                "status": JobStatus.IN_PROGRESS,
                "progress": 100,
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
        return Observation(job=awaiting, request_store=True, changed=True, detection_delay_seconds=delay)

    progress = max(job.progress, min(video.progress, 99))
    moved = reported is not job.status or progress > job.progress
    updates: dict[str, object] = {"status": reported, "progress": progress, "provider_status": video.status}
    if reported is JobStatus.IN_PROGRESS and job.rendering_since is None:
        updates.update(rendering_since=now, progress_baseline=progress)
    if moved:
        updates.update(updated_at=now, last_progress_at=now)
    advanced = refreshed.model_copy(update=updates)
    return Observation(job=_with_next_poll(advanced, now, video.poll_after_seconds, schedule), changed=moved)


def _with_next_poll(job: Job, now: datetime, provider_hint_seconds: float | None, schedule: PollSchedule) -> Job:
    if not job.is_unfinished:
        return job
    return job.model_copy(update={"next_poll_at": now + schedule.delay(job, now, provider_hint_seconds)})


def with_retry_delay(job: Job, now: datetime, retry_after: float | None) -> Job:
    """After a temporary provider fault: keep the status, try again later (honouring Retry-After)."""
    delay = max(FAULT_RETRY_DELAY, timedelta(seconds=retry_after or 0))
    return job.model_copy(update={"next_poll_at": now + delay, "lease_until": None, "last_refreshed_at": now})


def may_have_unfinished_uploads(job: Job) -> bool:
    """The store step was asked for this attempt, so a try of it may have been killed mid-upload.

    Such a try's request normally comes back and clears its uploads; but a request whose receives ran
    out (the queue's dead-letter queue) never does. An attempt given up on in this state (reset, timed
    out) is therefore handed to the store step once more, which aborts whatever the attempt left.
    """
    return job.store_requested_at is not None


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
