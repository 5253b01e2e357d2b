"""The job state machine: every change of a job is one of these named transitions.

Each is a pure function from (job, what happened, now) to a `Change`: the job to write, already
stamped with its webhook event and its next version, and what the caller does next. Each names the
statuses it may leave; the repository writes the result with a condition on the status and version
that were read, so racing writers never double-apply a change. Nothing else changes a job: the
package's `observation` folds a provider's report into the next state, and `events` stamps the webhook
event a change produces; both are used only from here and by the outbox that reads the stamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sorajobs.logic.lifecycle.events import stamp_event
from sorajobs.logic.lifecycle.observation import (
    STORE_RECHECK_DELAY,
    IllegalTransition,
    failed_job,
    observe,
    require_status,
)
from sorajobs.logic.schedule import PollSchedule
from sorajobs.models.job import (
    UNFINISHED_STATUSES,
    AttemptRecord,
    ErrorCategory,
    Job,
    JobError,
    JobStatus,
    StoredObject,
)
from sorajobs.models.render_times import RenderSample
from sorajobs.providers.base import ProviderVideo

# After a temporary provider fault without Retry-After, the job is asked about again this much later.
FAULT_RETRY_DELAY = timedelta(seconds=15)
DEFAULT_SCHEDULE = PollSchedule()
SUBMIT_RETRY_DELAY = timedelta(seconds=30)
# Whoever creates a pending job holds it this long, so the sweep never submits it a second time meanwhile.
SUBMIT_LEASE = timedelta(seconds=90)


@dataclass(frozen=True)
class Change:
    """A transition's result: the job to write, and what the caller does once it is written."""

    job: Job
    # Hand the finished generation to the store step.
    request_store: bool = False
    # The attempt was given up on after its store was requested: hand it to the store step once more, so
    # that it aborts whatever uploads the attempt left (see `may_have_unfinished_uploads`).
    release_uploads: bool = False
    # The status or progress moved (a poll that only reschedules is not a change the client sees).
    changed: bool = False
    # Seconds from the provider finishing to this observation of it, when the provider said when.
    detection_delay_seconds: float | None = None
    # How long the generation took at the provider, in each phase the report tells: render times to learn from.
    render_samples: tuple[RenderSample, ...] = ()


def _change(
    before: Job,
    after: Job,
    *,
    request_store: bool = False,
    release_uploads: bool = False,
    changed: bool = False,
    detection_delay_seconds: float | None = None,
    render_samples: tuple[RenderSample, ...] = (),
) -> Change:
    """Every transition ends here: the webhook event the change produces, and the next version."""
    stamped = stamp_event(before, after).model_copy(update={"version": before.version + 1})
    return Change(stamped, request_store, release_uploads, changed, detection_delay_seconds, render_samples)


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
    provider: str = "openai",
    image_url: str | None = None,
    image_key: str | None = None,
) -> Job:
    job = Job.model_validate(
        {
            "id": job_id,
            "webhook_url": webhook_url,
            "owner": owner,
            "status": JobStatus.PENDING,
            "prompt": prompt,
            "provider": provider,
            "model": model,
            "image_url": image_url,
            "image_key": image_key,
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
    return stamp_event(None, job)


def transition_to_submitted(
    job: Job, video: ProviderVideo, now: datetime, schedule: PollSchedule = DEFAULT_SCHEDULE
) -> Change:
    """pending → queued: the provider accepted the generation; then apply whatever else it reported."""
    require_status(job, {JobStatus.PENDING}, "submit")
    submitted = job.model_copy(
        update={
            "status": JobStatus.QUEUED,
            "provider_video_id": video.id,
            "provider_accepted_at": _accepted_at(video, now),
            "provider_status": "queued",
            "updated_at": now,
            "last_progress_at": now,
            "last_refreshed_at": now,
            "next_poll_at": None,
            "lease_until": None,
            "create_started_at": None,
        }
    )
    observed = observe(submitted, video, now, schedule)
    return _change(
        job,
        observed.job,
        request_store=observed.request_store,
        changed=True,
        render_samples=observed.render_samples,
    )


def _accepted_at(video: ProviderVideo, now: datetime) -> datetime:
    """When the provider took the generation: its own `created_at` where it says (a lost create adopted later
    started earlier), else now."""
    if video.created_at is None:
        return now
    return min(now, datetime.fromtimestamp(video.created_at, UTC))


def transition_to_creating(job: Job, now: datetime) -> Change:
    """pending stays pending, marked as having a paid create on its way to the provider."""
    require_status(job, {JobStatus.PENDING}, "create a generation for")
    return _change(job, job.model_copy(update={"create_started_at": now}))


def transition_to_admitted(job: Job) -> Change:
    """pending → pending holding a provider slot: the admission step before the paid create."""
    require_status(job, {JobStatus.PENDING}, "admit")
    return _change(job, job.model_copy(update={"admitted": True}))


def transition_to_awaiting_admission(job: Job) -> Change:
    """pending stays pending without a slot, due at once in first-come order, for the sweep to submit."""
    require_status(job, {JobStatus.PENDING}, "queue")
    after = job.model_copy(update={"admitted": False, "next_poll_at": job.attempt_started_at, "lease_until": None})
    return _change(job, after)


def transition_to_submit_retry(
    job: Job, now: datetime, retry_after: float | None, *, nothing_created: bool = False
) -> Change:
    """pending stays pending: the provider was unreachable or rate-limited; the sweep submits later. When the
    provider's answer shows the create made nothing (a 429), no generation is looked for before the next one."""
    require_status(job, {JobStatus.PENDING}, "retry the submission of")
    delay = max(SUBMIT_RETRY_DELAY, timedelta(seconds=retry_after or 0))
    update: dict[str, object] = {"next_poll_at": now + delay, "lease_until": None, "admitted": False}
    if nothing_created:
        update["create_started_at"] = None
    return _change(job, job.model_copy(update=update))


def transition_to_failed(job: Job, error: JobError, now: datetime) -> Change:
    """Any unfinished status → failed (timeout, lost video, expired content, a create whose outcome is unknown)."""
    return _change(job, failed_job(job, error, now), release_uploads=may_have_unfinished_uploads(job), changed=True)


def transition_to_rejected(job: Job, error: JobError, now: datetime, *, attempt_cost_cents: int) -> Change:
    """pending → failed: the provider refused the create (the prompt, the request or our key), so it made
    nothing and nothing is owed; the attempt's estimated cost leaves the job's, and so the sums in /stats."""
    require_status(job, {JobStatus.PENDING}, "reject the create of")
    return _change(job, _without_attempt_cost(failed_job(job, error, now), attempt_cost_cents), changed=True)


def never_sent(job: Job) -> bool:
    """The current attempt is pending and no create of it was started: the provider cannot have made (or
    billed) anything for it."""
    return job.status is JobStatus.PENDING and job.create_started_at is None and job.provider_video_id is None


def _without_attempt_cost(job: Job, attempt_cost_cents: int) -> Job:
    return job.model_copy(update={"estimated_cost_cents": max(0, job.estimated_cost_cents - attempt_cost_cents)})


def transition_to_cancelled(job: Job, now: datetime, *, attempt_cost_cents: int = 0) -> Change:
    """pending, queued or in_progress → cancelled, on the owner's request. A generation the provider has
    finished is paid for and on its way to storage, so it is not cancelled. An attempt never sent to the
    provider gives back its estimated cost (`attempt_cost_cents`)."""
    if job.awaiting_storage:
        raise IllegalTransition("the provider has finished this generation; it is being stored")
    error = JobError(code="cancelled", message="Cancelled on request.", category=ErrorCategory.CANCELLED)
    cancelled = failed_job(job, error, now, JobStatus.CANCELLED)
    if never_sent(job):
        cancelled = _without_attempt_cost(cancelled, attempt_cost_cents)
    return _change(job, cancelled, release_uploads=may_have_unfinished_uploads(job), changed=True)


def transition_to_completed(job: Job, video: StoredObject, thumbnail: StoredObject | None, now: datetime) -> Change:
    """in_progress (provider done, awaiting storage) → completed: the video is in S3 and verified."""
    require_status(job, {JobStatus.IN_PROGRESS}, "complete")
    if not job.awaiting_storage:
        raise IllegalTransition("the provider has not reported this generation as completed")
    completed = job.model_copy(
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
    return _change(job, completed, changed=True)


def transition_to_store_requested(job: Job, now: datetime) -> Change:
    """in_progress awaiting storage stays so, its store request sent again (the last one may be lost)."""
    if not job.awaiting_storage:
        raise IllegalTransition(f"cannot request the store of a job that is {job.status.value}, not awaiting storage")
    after = job.model_copy(
        update={"store_requested_at": now, "next_poll_at": now + STORE_RECHECK_DELAY, "lease_until": None}
    )
    return _change(job, after, request_store=True)


def transition_to_unscheduled(job: Job) -> Change:
    """A finished job found in the due index leaves it (and whatever lease it had)."""
    if job.is_unfinished:
        raise IllegalTransition(f"cannot unschedule a job that is {job.status.value}")
    return _change(job, job.model_copy(update={"next_poll_at": None, "lease_until": None}))


def transition_to_due_now(job: Job, now: datetime) -> Change:
    """An unfinished job becomes due at once, for the sweep's next pass (a provider webhook could not
    refresh it because the provider's request budget was spent)."""
    require_status(job, UNFINISHED_STATUSES, "make due")
    return _change(job, job.model_copy(update={"next_poll_at": now}))


def transition_to_reset(job: Job, now: datetime, *, resubmit: bool, attempt_cost_cents: int = 0) -> Change:
    """Any status but completed → reset (or straight to pending for a new attempt).

    The abandoned attempt is kept in the job's history and the provider link is cleared. `attempt_cost_cents`
    is one attempt's estimated cost: a new attempt adds it to the job's, and an abandoned attempt that was
    never sent to the provider gives it back.
    """
    require_status(job, set(JobStatus) - {JobStatus.COMPLETED}, "reset")
    cost_cents = job.estimated_cost_cents - (attempt_cost_cents if never_sent(job) else 0)
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
        "provider_accepted_at": None,
        "provider_started_at": None,
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
    release = may_have_unfinished_uploads(job)
    if not resubmit:
        reset = job.model_copy(
            update={**base, "status": JobStatus.RESET, "next_poll_at": None, "estimated_cost_cents": max(0, cost_cents)}
        )
        return _change(job, reset, release_uploads=release, changed=True)
    restarted = job.model_copy(
        update={
            **base,
            "status": JobStatus.PENDING,
            "attempt": job.attempt + 1,
            "attempt_started_at": now,
            "last_progress_at": now,
            "next_poll_at": now + SUBMIT_RETRY_DELAY,
            "lease_until": now + SUBMIT_LEASE,
            "estimated_cost_cents": max(0, cost_cents) + attempt_cost_cents,
        }
    )
    return _change(job, restarted, release_uploads=release, changed=True)


def apply_provider_video(
    job: Job, video: ProviderVideo, now: datetime, schedule: PollSchedule = DEFAULT_SCHEDULE
) -> Change:
    """A provider report about the job, folded in: it never moves a job backwards."""
    observed = observe(job, video, now, schedule)
    return _change(
        job,
        observed.job,
        request_store=observed.request_store,
        changed=observed.changed,
        detection_delay_seconds=observed.detection_delay_seconds,
        render_samples=observed.render_samples,
    )


def transition_to_retry_later(job: Job, now: datetime, retry_after: float | None) -> Change:
    """After a temporary provider fault: keep the status, try again later (honouring Retry-After)."""
    delay = max(FAULT_RETRY_DELAY, timedelta(seconds=retry_after or 0))
    after = job.model_copy(update={"next_poll_at": now + delay, "lease_until": None, "last_refreshed_at": now})
    return _change(job, after)


def provider_rejection(job: Job) -> JobError | None:
    """Why the provider refused the job's create outright: failed before it ever had a provider video."""
    if job.status is JobStatus.FAILED and job.provider_video_id is None:
        return job.error
    return None


def may_have_unfinished_uploads(job: Job) -> bool:
    """The store step was asked for this attempt, so a try of it may have been killed mid-upload.

    Such a try's request normally comes back and clears its uploads; but a request whose receives ran
    out (the queue's dead-letter queue) never does. An attempt given up on in this state (reset, timed
    out) is therefore handed to the store step once more, which aborts whatever the attempt left.
    """
    return job.store_requested_at is not None
