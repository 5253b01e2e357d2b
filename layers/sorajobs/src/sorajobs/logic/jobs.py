"""Job operations that talk to the provider: submit, refresh (sora-status) and reset."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.rate_budget import CallKind, RateBudget, budget_bucket
from sorajobs.dal.storage import VideoStorage
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import (
    apply_provider_video,
    new_pending_job,
    transition_to_admitted,
    transition_to_awaiting_admission,
    transition_to_cancelled,
    transition_to_creating,
    transition_to_failed,
    transition_to_rejected,
    transition_to_reset,
    transition_to_retry_later,
    transition_to_submit_retry,
    transition_to_submitted,
)
from sorajobs.logic.lifecycle.observation import IllegalTransition
from sorajobs.logic.model_choice import choose_model
from sorajobs.logic.pricing import estimate_cost_cents
from sorajobs.logic.schedule import PollSchedule
from sorajobs.logic.uploads import image_upload_key
from sorajobs.models.api import SubmitVideoRequest
from sorajobs.models.errors import (
    ImageUploadNotFound,
    JobAlreadyCompleted,
    JobNotCancellable,
    ProviderNotConfigured,
    ProviderSlotsFull,
    WebhookUrlNotAllowed,
)
from sorajobs.models.job import ErrorCategory, Job, JobError, JobStatus
from sorajobs.observability import record_metric
from sorajobs.providers.base import (
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderLookup,
    ProviderRateLimitedError,
    ProviderTemporaryError,
    ProviderVideo,
    ProviderVideoNotFoundError,
    VideoProvider,
)
from sorajobs.url_guard import Resolver, WebhookUrlRefused, check_webhook_url

logger = Logger(child=True)

# How long a 429 without Retry-After holds back every function's calls of that kind.
RATE_LIMIT_PAUSE_SECONDS = 10.0
# How far the provider's clock may run behind ours when a lost create is looked for.
CREATE_CLOCK_SKEW = timedelta(minutes=2)
# A provider may fetch an uploaded image while the request waits in its queue.
IMAGE_URL_TTL_SECONDS = 6 * 3600
# How long a create whose answer was lost waits for its webhook to name the generation.
LOST_CREATE_WEBHOOK_WAIT = timedelta(minutes=30)
LOST_CREATE_ERROR = JobError(
    code="create_outcome_unknown",
    message="The provider's answer to the create was lost, and it cannot be asked what it made; "
    "reset the job to try again.",
    category=ErrorCategory.TIMEOUT,
)


# The code of a job whose create the provider answered with 404: this deployment's provider settings are wrong.
ENDPOINT_NOT_FOUND = "provider_endpoint_not_found"


def _endpoint_not_found(job: Job, missing: ProviderError) -> str:
    return (
        f"The provider {job.provider!r} answered 404 to the create of model {job.model!r}: its base URL is wrong "
        f"(an OpenAI-Videos gateway's ends in /v1) or it does not serve the model. ({missing.message})"
    )


@dataclass(frozen=True)
class StatusAnswer:
    """The job to show, and how many seconds the client should wait before asking again."""

    job: Job
    retry_after_seconds: int | None


class JobService:
    """Submit, refresh, cancel and reset; their transitions are written through `JobWrites`."""

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
        self._new_id = new_id
        self._resolve_host = resolve_host

    def _now(self) -> datetime:
        return self._clock.now()

    # --- submit -------------------------------------------------------------------------------

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
            estimated_cost_cents=self._attempt_cost(choice.spec.model, choice.seconds, choice.size),
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

    def _attempt_cost(self, model: str, seconds: str, size: str) -> int:
        return estimate_cost_cents(self._settings.prices, model=model, seconds=seconds, size=size)

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
        try:
            earlier = self._earlier_create(job, request, provider)
        except ProviderTemporaryError as fault:
            self._provider_fault(job, fault, "retrieve")
            return self._writes.apply(job, transition_to_submit_retry(job, self._now(), fault.retry_after))
        if earlier is not None:
            logger.info(
                "Found the generation of a create whose answer was lost; adopting it",
                extra={"job_id": job.id, "provider_video_id": earlier.id},
            )
            record_metric(name="LostCreatesAdopted", unit=MetricUnit.Count, value=1)
            return self._writes.apply(job, transition_to_submitted(job, earlier, self._now(), self._schedule))
        if job.create_started_at is not None and not provider.capabilities.finds_lost_creates:
            # A create may have been billed, and this provider cannot be asked: sending another could pay twice.
            # Its webhook (when the create asked for one) names it; until then the job waits, then it fails.
            now = self._now()
            if request.webhook_url and now - job.create_started_at < LOST_CREATE_WEBHOOK_WAIT:
                return self._writes.apply(job, transition_to_submit_retry(job, now, None))
            logger.warning("A create's answer was lost at a provider that cannot list", extra={"job_id": job.id})
            record_metric(name="LostCreatesUnknowable", unit=MetricUnit.Count, value=1)
            return self._writes.apply(job, transition_to_failed(job, LOST_CREATE_ERROR, now))
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
            self._provider_fault(job, fault, "create")
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
        cost = self._attempt_cost(job.model, job.seconds, job.size)
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

    def record_report(self, job: Job, video: ProviderVideo) -> Job:
        """A provider's pushed report (a verified webhook), folded in like a poll's answer."""
        return self._writes.apply(job, apply_provider_video(job, video, self._now(), self._schedule))

    def adopt_lost_create(self, job: Job, video: ProviderVideo) -> Job:
        """The generation of a create whose answer never reached us, made known by its webhook."""
        logger.info("A webhook named the generation of a lost create; adopting it", extra={"job_id": job.id})
        record_metric(name="LostCreatesAdopted", unit=MetricUnit.Count, value=1)
        return self._writes.apply(job, transition_to_submitted(job, video, self._now(), self._schedule))

    def _earlier_create(self, job: Job, request: GenerationRequest, provider: VideoProvider) -> ProviderVideo | None:
        """The generation an earlier create of this attempt made, if its answer never reached us.

        Only asked when a create was started: the provider's newest generations since then, matched on
        what was asked for and not already any job's (nor an earlier attempt's of this one).
        """
        if job.create_started_at is None or not provider.capabilities.finds_lost_creates:
            return None
        since = job.create_started_at - CREATE_CLOCK_SKEW
        for video in provider.created_since(int(since.timestamp())):
            if video.answers(request) and self.unclaimed_generation(job, video.id):
                return video
        return None

    def unclaimed_generation(self, job: Job, provider_video_id: str) -> bool:
        """The generation is no job's, nor an earlier attempt's of this one: a lost create of the job may adopt it."""
        if provider_video_id in {record.provider_video_id for record in job.history}:
            return False
        return self._jobs.find_by_provider_video_id(provider_video_id) is None

    # --- refresh ------------------------------------------------------------------------------

    def refresh(self, job: Job, *, budget_reserved: bool = False) -> tuple[Job, float | None]:
        """Asks the provider about a submitted job and applies the answer.

        Returns the job and, when the provider could not be asked (a spent budget, a temporary fault),
        the seconds until it is worth asking again. A spent budget changes nothing.
        """
        if job.provider_video_id is None:
            return job, None
        if not budget_reserved:
            grant = self._rate_budget.take(budget_bucket(job.provider, "retrieve"))
            if not grant.granted:
                record_metric(name="RateBudgetWaits", unit=MetricUnit.Count, value=1)
                return job, grant.retry_after_seconds
        now = self._now()
        record_metric(name="ProviderPolls", unit=MetricUnit.Count, value=1)
        try:
            video = self._provider(job.provider).retrieve(job.provider_video_id)
        except ProviderVideoNotFoundError as missing:
            error = JobError(
                code="not_found",
                message=f"The provider no longer knows the video: {missing.message}",
                category=ErrorCategory.PROVIDER_INTERNAL,
            )
            return self._writes.apply(job, transition_to_failed(job, error, now)), None
        except (ProviderAuthError, ProviderNotConfigured) as refused:
            # The generation may still finish and be fetched once the key is mended; the stuck timeout ends it
            # otherwise. Loud meanwhile: this is a misconfiguration.
            record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
            logger.error(
                "The provider refused our key while refreshing", extra={"job_id": job.id, "error": str(refused)}
            )
            return self._writes.apply(job, transition_to_retry_later(job, now, None)), None
        except ProviderTemporaryError as fault:
            self._provider_fault(job, fault, "retrieve")
            logger.warning(
                "Provider fault while refreshing; will retry",
                extra={"job_id": job.id, "code": fault.code, "retry_after": fault.retry_after},
            )
            return self._writes.apply(job, transition_to_retry_later(job, now, fault.retry_after)), fault.retry_after
        return self._writes.apply(job, apply_provider_video(job, video, now, self._schedule)), None

    def status(self, owner: str, job_id: str) -> StatusAnswer:
        """The job, refreshed from the provider when unfinished and not refreshed recently."""
        job = self._jobs.get_for_owner(job_id, owner)
        if not job.is_unfinished:
            return StatusAnswer(job=job, retry_after_seconds=None)
        minimum = self._settings.status_min_refresh_seconds
        provider_retry_after: float | None = None
        if job.provider_video_id is not None and not job.awaiting_storage and self._refresh_due(job):
            job, provider_retry_after = self.refresh(job)
        if not job.is_unfinished:
            return StatusAnswer(job=job, retry_after_seconds=None)
        since = (self._now() - (job.last_refreshed_at or job.created_at)).total_seconds()
        wait = max(minimum - since, provider_retry_after or 0.0, 1.0)
        return StatusAnswer(job=job, retry_after_seconds=math.ceil(wait))

    # --- cancel -------------------------------------------------------------------------------

    def cancel(self, owner: str, job_id: str) -> Job:
        """Ends an unfinished job at once, and asks its provider to stop where the provider can."""
        job = self._jobs.get_for_owner(job_id, owner)
        if job.status is JobStatus.CANCELLED:
            return job
        if not job.is_unfinished or job.awaiting_storage:
            raise JobNotCancellable(
                f"The job is {'finished at the provider and being stored' if job.is_unfinished else job.status.value}"
                "; only a pending, queued or in-progress job can be cancelled.",
                details=[{"job_id": job.id, "status": job.status.value}],
            )
        try:
            cost = self._attempt_cost(job.model, job.seconds, job.size)
            cancelled = self._writes.write(job, transition_to_cancelled(job, self._now(), attempt_cost_cents=cost))
        except IllegalTransition as illegal:
            raise JobNotCancellable(str(illegal)) from illegal
        self.stop_at_provider(job)
        logger.info("Job cancelled", extra={"job_id": job.id})
        return cancelled

    def stop_at_provider(self, job: Job) -> None:
        """Asks the provider to stop an abandoned generation; best effort, since the job has moved on."""
        if job.provider_video_id is None or job.awaiting_storage or not job.is_unfinished:
            return
        try:
            provider = self._provider(job.provider)
            if provider.capabilities.cancel and provider.cancel(job.provider_video_id):
                record_metric(name="ProviderCancels", unit=MetricUnit.Count, value=1)
        except (ProviderError, ProviderNotConfigured) as error:
            logger.warning("Could not cancel at the provider", extra={"job_id": job.id, "error": str(error)})

    def _provider_fault(self, job: Job, fault: ProviderTemporaryError, kind: CallKind) -> None:
        """Counts the fault by code; a 429 pauses that kind of call to that provider for every function."""
        with single_metric(name="ProviderErrors", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="code", value=fault.code)
        if isinstance(fault, ProviderRateLimitedError):
            bucket = budget_bucket(job.provider, kind)
            self._rate_budget.pause(bucket, fault.retry_after or RATE_LIMIT_PAUSE_SECONDS)

    def _refresh_due(self, job: Job) -> bool:
        if job.last_refreshed_at is None:
            return True
        elapsed = (self._now() - job.last_refreshed_at).total_seconds()
        return elapsed >= self._settings.status_min_refresh_seconds

    # --- reset --------------------------------------------------------------------------------

    def reset(self, owner: str, job_id: str, *, resubmit: bool) -> Job:
        """Abandons the current attempt (kept in history); with `resubmit`, starts a new one at once."""
        job = self._jobs.get_for_owner(job_id, owner)
        if job.status is JobStatus.COMPLETED:
            raise JobAlreadyCompleted("The job is completed; its video is kept and it cannot be reset.")
        if job.status is JobStatus.RESET and not resubmit:
            return job
        cost = self._attempt_cost(job.model, job.seconds, job.size)
        change = transition_to_reset(job, self._now(), resubmit=resubmit, attempt_cost_cents=cost)
        reset = self._writes.write(job, change)
        self.stop_at_provider(job)
        logger.info("Job reset", extra={"job_id": job.id, "resubmit": resubmit, "attempt": reset.attempt})
        return self.submit_pending(reset) if resubmit else reset
