"""Asking a provider about a submitted job (the sweep, sora-status and the provider's webhooks), or being told by
it (a verified webhook's report), and folding the answer in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.dal.rate_budget import RateBudget, budget_bucket
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import apply_provider_video, transition_to_failed, transition_to_retry_later
from sorajobs.logic.provider_faults import record_provider_fault
from sorajobs.logic.schedule import PollSchedule
from sorajobs.models.errors import ProviderNotConfigured
from sorajobs.models.job import ErrorCategory, Job, JobError
from sorajobs.observability import record_metric
from sorajobs.providers.base import (
    ProviderAuthError,
    ProviderLookup,
    ProviderTemporaryError,
    ProviderVideo,
    ProviderVideoNotFoundError,
)

logger = Logger(child=True)


@dataclass(frozen=True)
class RefreshOutcome:
    """What a refresh did: the job as it now stands; when the provider could not be asked or answered with a fault,
    the seconds until it is worth asking again (None when it named none); whether the rate budget denied the look
    (then the provider was not asked and nothing was written); and whether the provider answered with a fault or
    refused our key (then the job is due again, and nothing it reported was applied)."""

    job: Job
    retry_after: float | None = None
    budget_denied: bool = False
    provider_fault: bool = False


class JobRefresher:
    """Applies a provider's answers about a submitted job, asked for (within the rate budget) or pushed."""

    def __init__(
        self,
        *,
        clock: Clock,
        providers: ProviderLookup,
        rate_budget: RateBudget,
        schedule: PollSchedule,
        writes: JobWrites,
    ) -> None:
        self._clock = clock
        self._provider = providers
        self._rate_budget = rate_budget
        self._schedule = schedule
        self._writes = writes

    def _now(self) -> datetime:
        return self._clock.now()

    def refresh(self, job: Job, *, budget_reserved: bool = False) -> RefreshOutcome:
        """Asks the provider about a submitted job and applies the answer. A spent budget changes nothing."""
        if job.provider_video_id is None:
            return RefreshOutcome(job)
        if not budget_reserved:
            grant = self._rate_budget.take(budget_bucket(job.provider, "retrieve"))
            if not grant.granted:
                record_metric(name="RateBudgetWaits", unit=MetricUnit.Count, value=1)
                return RefreshOutcome(job, retry_after=grant.retry_after_seconds, budget_denied=True)
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
            return RefreshOutcome(self._writes.apply(job, transition_to_failed(job, error, now)))
        except (ProviderAuthError, ProviderNotConfigured) as refused:
            # The generation may still finish and be fetched once the key is mended; the stuck timeout ends it
            # otherwise. Loud meanwhile: this is a misconfiguration.
            record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
            logger.error(
                "The provider refused our key while refreshing", extra={"job_id": job.id, "error": str(refused)}
            )
            retried = self._writes.apply(job, transition_to_retry_later(job, now, None))
            return RefreshOutcome(retried, provider_fault=True)
        except ProviderTemporaryError as fault:
            record_provider_fault(self._rate_budget, job, fault, "retrieve")
            logger.warning(
                "Provider fault while refreshing; will retry",
                extra={"job_id": job.id, "code": fault.code, "retry_after": fault.retry_after},
            )
            retried = self._writes.apply(job, transition_to_retry_later(job, now, fault.retry_after))
            return RefreshOutcome(retried, retry_after=fault.retry_after, provider_fault=True)
        return RefreshOutcome(self._writes.apply(job, apply_provider_video(job, video, now, self._schedule)))

    def record_report(self, job: Job, video: ProviderVideo) -> Job:
        """A provider's pushed report (a verified webhook), folded in like a poll's answer."""
        return self._writes.apply(job, apply_provider_video(job, video, self._now(), self._schedule))
