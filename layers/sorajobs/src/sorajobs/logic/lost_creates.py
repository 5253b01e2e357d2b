"""A create whose answer never reached us may have made, and billed, a generation. Before a job's attempt is
created again, that generation is looked for (a provider that lists its creates) or awaited from its webhook (one
that does not), and adopted when found, so that no attempt is paid for twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.rate_budget import RateBudget
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import transition_to_failed, transition_to_submit_retry, transition_to_submitted
from sorajobs.logic.provider_faults import record_provider_fault
from sorajobs.logic.schedule import PollSchedule
from sorajobs.models.job import ErrorCategory, Job, JobError
from sorajobs.observability import record_metric
from sorajobs.providers.base import GenerationRequest, ProviderTemporaryError, ProviderVideo, VideoProvider

logger = Logger(child=True)

# How far the provider's clock may run behind ours when a lost create is looked for.
CREATE_CLOCK_SKEW = timedelta(minutes=2)
# How long a create whose answer was lost waits for its webhook to name the generation.
LOST_CREATE_WEBHOOK_WAIT = timedelta(minutes=30)
LOST_CREATE_ERROR = JobError(
    code="create_outcome_unknown",
    message="The provider's answer to the create was lost, and it cannot be asked what it made; "
    "reset the job to try again.",
    category=ErrorCategory.TIMEOUT,
)


class LostCreates:
    """Finds, awaits or adopts the generation of a create whose answer was lost."""

    def __init__(
        self, *, clock: Clock, jobs: JobRepository, rate_budget: RateBudget, schedule: PollSchedule, writes: JobWrites
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._rate_budget = rate_budget
        self._schedule = schedule
        self._writes = writes

    def _now(self) -> datetime:
        return self._clock.now()

    def recover(self, job: Job, request: GenerationRequest, provider: VideoProvider) -> Job | None:
        """Settles an earlier create of this attempt before another is sent: the job as it moved on (the generation
        found and adopted, left waiting for its webhook, or failed), or None when a create may be sent."""
        try:
            earlier = self._earlier_create(job, request, provider)
        except ProviderTemporaryError as fault:
            record_provider_fault(self._rate_budget, job, fault, "retrieve")
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
        return None

    def adopt(self, job: Job, video: ProviderVideo) -> Job:
        """The generation of a create whose answer never reached us, made known by its webhook."""
        logger.info("A webhook named the generation of a lost create; adopting it", extra={"job_id": job.id})
        record_metric(name="LostCreatesAdopted", unit=MetricUnit.Count, value=1)
        return self._writes.apply(job, transition_to_submitted(job, video, self._now(), self._schedule))

    def unclaimed_generation(self, job: Job, provider_video_id: str) -> bool:
        """The generation is no job's, nor an earlier attempt's of this one: a lost create of the job may adopt it."""
        if provider_video_id in {record.provider_video_id for record in job.history}:
            return False
        return self._jobs.find_by_provider_video_id(provider_video_id) is None

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
