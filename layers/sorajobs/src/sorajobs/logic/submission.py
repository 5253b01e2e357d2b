"""Submitting a job: stored as pending, admitted to a provider slot and the create budget, then created at the
provider. An earlier create of the attempt whose answer was lost is settled first (`LostCreates`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.rate_budget import RateBudget, budget_bucket
from sorajobs.dal.storage import VideoStorage
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import (
    new_pending_job,
    transition_to_admitted,
    transition_to_awaiting_admission,
    transition_to_creating,
    transition_to_rejected,
    transition_to_submit_retry,
    transition_to_submitted,
)
from sorajobs.logic.lost_creates import LostCreates
from sorajobs.logic.model_choice import choose_model
from sorajobs.logic.pricing import attempt_cost_cents, estimate_cost_cents
from sorajobs.logic.provider_faults import record_provider_fault
from sorajobs.logic.schedule import PollSchedule
from sorajobs.logic.uploads import image_upload_key
from sorajobs.models.api import SubmitVideoRequest
from sorajobs.models.errors import ImageUploadNotFound, ProviderNotConfigured, ProviderSlotsFull, WebhookUrlNotAllowed
from sorajobs.models.job import ErrorCategory, Job, JobError
from sorajobs.observability import record_metric
from sorajobs.providers.base import (
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderLookup,
    ProviderRateLimitedError,
    ProviderTemporaryError,
    ProviderVideoNotFoundError,
)
from sorajobs.url_guard import Resolver, WebhookUrlRefused, check_webhook_url

logger = Logger(child=True)

# A provider may fetch an uploaded image while the request waits in its queue.
IMAGE_URL_TTL_SECONDS = 6 * 3600


# The code of a job whose create the provider answered with 404: this deployment's provider settings are wrong.
ENDPOINT_NOT_FOUND = "provider_endpoint_not_found"


def _endpoint_not_found(job: Job, missing: ProviderError) -> str:
    return (
        f"The provider {job.provider!r} answered 404 to the create of model {job.model!r}: its base URL is wrong "
        f"(an OpenAI-Videos gateway's ends in /v1) or it does not serve the model. ({missing.message})"
    )


class JobSubmission:
    """Submit a job, and send a pending one to its provider (once any lost create of its attempt is settled)."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        jobs: JobRepository,
        providers: ProviderLookup,
        rate_budget: RateBudget,
        storage: VideoStorage,
        schedule: PollSchedule,
        writes: JobWrites,
        lost_creates: LostCreates,
        new_id: Callable[[], str],
        resolve_host: Resolver,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._jobs = jobs
        self._provider = providers
        self._rate_budget = rate_budget
        self._storage = storage
        self._schedule = schedule
        self._writes = writes
        self._lost_creates = lost_creates
        self._new_id = new_id
        self._resolve_host = resolve_host

    def _now(self) -> datetime:
        return self._clock.now()

    def submit(self, owner: str, request: SubmitVideoRequest) -> Job:
        """Stores the job as pending, then submits it; a provider outage leaves it for the sweep.

        Nothing is written for a model, duration, size or image the deployment does not offer, nor for a
        provider it cannot reach (not enabled, or without a key)."""
        choice = choose_model(self._settings.catalog, request)
        self._provider(choice.spec.provider)  # ProviderNotConfigured (503) before anything is written
        job = new_pending_job(
            job_id=self._new_id(),
            owner=owner,
            prompt=request.prompt,
            provider=choice.spec.provider,
            model=choice.spec.model,
            seconds=choice.seconds,
            size=choice.size,
            image_url=request.image_url,
            image_key=self._uploaded_image(owner, request.image_upload_id),
            metadata=dict(request.metadata),
            now=self._now(),
            estimated_cost_cents=estimate_cost_cents(
                self._settings.prices, model=choice.spec.model, seconds=choice.seconds, size=choice.size
            ),
            webhook_url=self._checked_webhook_url(request.webhook_url),
        )
        # Refused atomically, with nothing written, past the owner's active-job or daily spend limit.
        self._jobs.create(job)
        record_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        return self.submit_pending(job)

    def _uploaded_image(self, owner: str, upload_id: str | None) -> str | None:
        """The bucket key of the caller's own uploaded image; 400 when it is not there (never uploaded, someone
        else's, or expired)."""
        if upload_id is None:
            return None
        key = image_upload_key(owner, upload_id)
        if not self._storage.object_exists(key):
            raise ImageUploadNotFound(
                f"No uploaded image {upload_id!r}: POST /uploads, then upload the file to its url, then submit.",
                details=[{"loc": ["body", "image_upload_id"]}],
            )
        return key

    def _checked_webhook_url(self, url: str | None) -> str | None:
        """https on a public address only (an SSRF guard); local runs may use http://127.0.0.1."""
        if url is None:
            return None
        try:
            return check_webhook_url(
                url,
                resolve=self._resolve_host,
                allow_local_http=self._settings.webhook_allow_local_http,
                allowed_hosts=self._settings.webhook_url_allowed_hosts,
            )
        except WebhookUrlRefused as refused:
            raise WebhookUrlNotAllowed(str(refused), details=[{"loc": ["body", "webhook_url"]}]) from refused

    def submit_pending(self, job: Job, *, budget_reserved: bool = False) -> Job:
        """Takes a provider slot and a create request from the budget for a pending job, and sends it.

        The caller holds the job's lease. Without a free slot or budget the job waits, due at once in
        first-come order, for the sweep.
        """
        if not job.admitted:
            try:
                job = self._writes.write(job, transition_to_admitted(job))
            except ProviderSlotsFull:
                logger.info("Every provider slot is taken; the job waits its turn", extra={"job_id": job.id})
                return self._writes.apply(job, transition_to_awaiting_admission(job))
        if not budget_reserved and not self._rate_budget.take(budget_bucket(job.provider, "create")).granted:
            record_metric(name="RateBudgetWaits", unit=MetricUnit.Count, value=1)
            logger.info("The provider's create budget is spent; the job waits its turn", extra={"job_id": job.id})
            return self._writes.apply(job, transition_to_awaiting_admission(job))
        try:
            provider = self._provider(job.provider)
        except ProviderNotConfigured as missing:
            # The key went missing after the job was accepted: the job waits (and alarms) until it is back.
            record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
            logger.error("The job's provider cannot be reached", extra={"job_id": job.id, "reason": missing.message})
            return self._writes.apply(job, transition_to_submit_retry(job, self._now(), None))
        request = GenerationRequest(
            prompt=job.prompt,
            model=job.model,
            seconds=job.seconds,
            size=job.size,
            image_url=self._image_url(job),
            webhook_url=self._provider_webhook_url(job),
        )
        if (recovered := self._lost_creates.recover(job, request, provider)) is not None:
            return recovered
        # Written before the paid call: if this invocation dies before the answer is stored, the next
        # try knows a generation may already exist and looks for it instead of paying twice.
        job = self._writes.write(job, transition_to_creating(job, self._now()))
        try:
            video = provider.submit(request)
        except ProviderAuthError as key_refused:
            # Our key (or account) is refused: no retry mends it, an operator must. Failed at once, and alarmed.
            record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
            logger.error("The provider refused our key", extra={"job_id": job.id, "code": key_refused.code})
            return self._refused_create(job, key_refused.as_job_error())
        except ProviderVideoNotFoundError as missing:
            # A 404 to a create: the provider's URL is wrong, or it does not serve the model. Nothing was made.
            record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
            logger.error("The provider answered 404 to a create", extra={"job_id": job.id, "error": missing.message})
            error = JobError(
                code=ENDPOINT_NOT_FOUND, message=_endpoint_not_found(job, missing), category=ErrorCategory.AUTH
            )
            return self._refused_create(job, error)
        except GenerationRejectedError as rejection:
            logger.info("Provider rejected the generation", extra={"job_id": job.id, "code": rejection.code})
            record_metric(name="GenerationsRejected", unit=MetricUnit.Count, value=1)
            return self._refused_create(job, rejection.as_job_error())
        except ProviderTemporaryError as fault:
            record_provider_fault(self._rate_budget, job, fault, "create")
            logger.warning(
                "Provider unavailable at submit; the sweep will retry",
                extra={"job_id": job.id, "code": fault.code, "retry_after": fault.retry_after},
            )
            refused = isinstance(fault, ProviderRateLimitedError)  # a 429 is an answer: nothing was made
            return self._writes.apply(
                job, transition_to_submit_retry(job, self._now(), fault.retry_after, nothing_created=refused)
            )
        logger.info("Generation submitted", extra={"job_id": job.id, "provider_video_id": video.id})
        return self._writes.apply(job, transition_to_submitted(job, video, self._now(), self._schedule))

    def _refused_create(self, job: Job, error: JobError) -> Job:
        """The provider refused the create (the prompt, the request, our key or its URL): it made nothing, so the
        job fails without the attempt's cost."""
        cost = attempt_cost_cents(self._settings.prices, job)
        return self._writes.apply(job, transition_to_rejected(job, error, self._now(), attempt_cost_cents=cost))

    def _image_url(self, job: Job) -> str | None:
        """The URL the provider fetches the job's image from; an upload's is signed afresh for each create."""
        if job.image_key is None:
            return job.image_url
        return self._storage.presigned_image_url(job.image_key, expires_in=IMAGE_URL_TTL_SECONDS)

    def _provider_webhook_url(self, job: Job) -> str | None:
        """Where a provider with per-request webhooks posts this attempt's completion (fal). The job and attempt
        ride along, so even a create whose answer was lost is found by its webhook."""
        if job.provider != "fal" or not self._settings.fal_webhook_url:
            return None
        return f"{self._settings.fal_webhook_url}?{urlencode({'job': job.id, 'attempt': job.attempt})}"
