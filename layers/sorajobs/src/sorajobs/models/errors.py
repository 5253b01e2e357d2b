"""Domain errors. Each knows its HTTP status and error code; the API maps them in one place."""

from __future__ import annotations

from typing import Any

from sorajobs.models.job import Job, JobStatus


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.retry_after: float | None = None


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class AdminOnly(DomainError):
    status_code = 403
    code = "forbidden"


class JobNotFound(DomainError):
    status_code = 404
    code = "not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No video job with id {job_id!r}.")


class VariantNotStored(DomainError):
    status_code = 404
    code = "not_found"


class JobAlreadyCompleted(DomainError):
    status_code = 409
    code = "job_completed"


class VideoNotReady(DomainError):
    status_code = 409
    code = "not_ready"


class JobHasNoVideo(DomainError):
    """The job ended without a video (failed, cancelled or reset): waiting will not make one."""

    status_code = 409
    code = "no_video"


_RESUBMIT = 'start a new attempt with POST /videos/{id}/reset and {{"resubmit": true}}, or submit it again'


def video_unavailable(job: Job) -> DomainError:
    """Why this job's video cannot be downloaded (it is not `ready`), and what to do about it."""
    details: list[dict[str, Any]] = [{"job_id": job.id, "status": job.status.value}]
    resubmit = _RESUBMIT.format(id=job.id)
    if job.status is JobStatus.FAILED:
        reason = f" ({job.error.code}: {job.error.message})" if job.error else ""
        return JobHasNoVideo(f"This job failed{reason}, so it has no video: {resubmit}.", details=details)
    if job.status in (JobStatus.CANCELLED, JobStatus.RESET):
        return JobHasNoVideo(f"This job was {job.status.value}, so it has no video: {resubmit}.", details=details)
    return VideoNotReady(
        f"The video is not ready yet: the job is {job.status.value} at {job.progress} %. Poll GET /videos/{job.id} "
        "(or wait for the video.completed webhook) until `ready` is true, then download it.",
        details=details,
    )


class RequestInProgress(DomainError):
    status_code = 409
    code = "request_in_progress"


class InvalidCursor(DomainError):
    status_code = 400
    code = "invalid_cursor"


class UnsupportedModel(DomainError):
    """An unknown or disabled provider or model; the details list the valid ones."""

    status_code = 400
    code = "unsupported_model"


class UnsupportedOption(DomainError):
    """A duration, size or image the chosen model does not take; the details list what it takes."""

    status_code = 400
    code = "unsupported_option"


class ImageUploadNotFound(DomainError):
    status_code = 400
    code = "image_upload_not_found"


class ProviderNotConfigured(DomainError):
    """The deployment cannot reach the provider (not enabled, or its key is missing): nothing was written."""

    status_code = 503
    code = "provider_not_configured"


class ProviderMisconfigured(DomainError):
    """The provider answered 404 to the create (a wrong base URL, or a model it does not serve): the job failed
    (category auth) and an operator must act."""

    status_code = 503
    code = "provider_misconfigured"

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message, details=[{"job_id": job_id, "status": "failed"}])


class ProviderRefusedKey(DomainError):
    """The provider refused this deployment's key: the job failed (category auth) and an operator must act."""

    status_code = 503
    code = "provider_auth_failed"

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message, details=[{"job_id": job_id, "status": "failed"}])


class JobNotCancellable(DomainError):
    status_code = 409
    code = "not_cancellable"


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


class TooManyActiveJobs(DomainError):
    status_code = 429
    code = "too_many_active_jobs"


class DailySpendLimitReached(DomainError):
    status_code = 429
    code = "daily_spend_limit_reached"


class GenerationRejected(DomainError):
    """The provider refused the generation synchronously (invalid or moderated prompt)."""

    status_code = 422

    def __init__(self, code: str, message: str, *, job_id: str) -> None:
        super().__init__(message, details=[{"job_id": job_id, "status": "failed"}])
        self.code = code


class WebhookUrlNotAllowed(DomainError):
    status_code = 422
    code = "webhook_url_not_allowed"


class WebhookSignatureInvalid(DomainError):
    status_code = 401
    code = "invalid_signature"


class ReplayContended(DomainError):
    status_code = 409
    code = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.retry_after = 1


class WebhookEventNotFound(DomainError):
    status_code = 404
    code = "not_found"


class ProviderSlotsFull(Exception):
    """Every in-flight slot at the provider is taken; the job waits as pending (FIFO)."""


class TransitionConflict(Exception):
    """A conditional write found the job changed since it was read (another writer won)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} changed concurrently")
        self.job_id = job_id
