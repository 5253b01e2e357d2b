"""An owner's operations on a job: its status (sora-status), cancel and reset."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.dal.jobs import JobRepository
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import transition_to_cancelled, transition_to_reset
from sorajobs.logic.lifecycle.observation import IllegalTransition
from sorajobs.logic.pricing import attempt_cost_cents
from sorajobs.logic.refresh import JobRefresher
from sorajobs.logic.submission import JobSubmission
from sorajobs.models.errors import JobAlreadyCompleted, JobNotCancellable, ProviderNotConfigured
from sorajobs.models.job import Job, JobStatus
from sorajobs.observability import record_metric
from sorajobs.providers.base import ProviderError, ProviderLookup

logger = Logger(child=True)


@dataclass(frozen=True)
class StatusAnswer:
    """The job to show, and how many seconds the client should wait before asking again."""

    job: Job
    retry_after_seconds: int | None


class JobService:
    """What an owner does to a job: asks its status (refreshed through `JobRefresher`), cancels or resets it."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        jobs: JobRepository,
        providers: ProviderLookup,
        writes: JobWrites,
        refresher: JobRefresher,
        submission: JobSubmission,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._jobs = jobs
        self._provider = providers
        self._writes = writes
        self._refresher = refresher
        self._submission = submission

    def _now(self) -> datetime:
        return self._clock.now()

    def status(self, owner: str, job_id: str) -> StatusAnswer:
        """The job, refreshed from the provider when unfinished and not refreshed recently."""
        job = self._jobs.get_for_owner(job_id, owner)
        if not job.is_unfinished:
            return StatusAnswer(job=job, retry_after_seconds=None)
        minimum = self._settings.status_min_refresh_seconds
        provider_retry_after: float | None = None
        if job.provider_video_id is not None and not job.awaiting_storage and self._refresh_due(job):
            refreshed = self._refresher.refresh(job)
            job, provider_retry_after = refreshed.job, refreshed.retry_after
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
            cost = attempt_cost_cents(self._settings.prices, job)
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
        cost = attempt_cost_cents(self._settings.prices, job)
        change = transition_to_reset(job, self._now(), resubmit=resubmit, attempt_cost_cents=cost)
        reset = self._writes.write(job, change)
        self.stop_at_provider(job)
        logger.info("Job reset", extra={"job_id": job.id, "resubmit": resubmit, "attempt": reset.attempt})
        return self._submission.submit_pending(reset) if resubmit else reset
