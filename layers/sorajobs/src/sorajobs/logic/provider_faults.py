"""What a provider's temporary fault does besides the job's own transition, for a create and a status look alike."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sorajobs.dal.rate_budget import CallKind, RateBudget, budget_bucket
from sorajobs.models.job import Job
from sorajobs.providers.base import ProviderRateLimitedError, ProviderTemporaryError

# How long a 429 without Retry-After holds back every function's calls of that kind.
RATE_LIMIT_PAUSE_SECONDS = 10.0


def record_provider_fault(rate_budget: RateBudget, job: Job, fault: ProviderTemporaryError, kind: CallKind) -> None:
    """Counts the fault by code; a 429 pauses that kind of call to that provider for every function."""
    with single_metric(name="ProviderErrors", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="code", value=fault.code)
    if isinstance(fault, ProviderRateLimitedError):
        bucket = budget_bucket(job.provider, kind)
        rate_budget.pause(bucket, fault.retry_after or RATE_LIMIT_PAUSE_SECONDS)
