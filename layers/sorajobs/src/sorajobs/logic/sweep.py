"""The scheduled sweep: polls every due job with bounded concurrency and stops before its time runs out."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.catalog import PROVIDER_NAMES, ProviderName
from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.dal.job_items import POLL_SHARD, SUBMIT_SHARD, due_shard
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.rate_budget import Bucket, RateBudget, budget_bucket
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import (
    transition_to_failed,
    transition_to_store_requested,
    transition_to_unscheduled,
)
from sorajobs.logic.refresh import JobRefresher
from sorajobs.logic.submission import JobSubmission
from sorajobs.logic.timeouts import timeout_error
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.job import Job, JobStatus
from sorajobs.observability import record_metric

logger = Logger(child=True)

# The sweep's workers: an executor of the given size (a thread pool; a seeded test runs them in turns instead).
WorkerPool = Callable[[int], Executor]


class SweepOutcome(StrEnum):
    POLLED = "polled"
    SUBMITTED = "submitted"
    AWAITING_ADMISSION = "awaiting_admission"
    TIMED_OUT = "timed_out"
    STORE_REQUESTED = "store_requested"
    UNSCHEDULED = "unscheduled"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass
class SweepReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped_early: bool = False
    passes: int = 0
    # Passes that left due work because the provider's budget for that kind of call was spent.
    budget_waits: Counter[str] = field(default_factory=Counter)

    @property
    def handled(self) -> int:
        return sum(self.outcomes.values())


class _ReservedRequests:
    """Takes each job's request from the shared budget before the job goes to a worker.

    One at a time: a block taken ahead would be lost to the other functions when the pass ends early.
    """

    def __init__(self, budget: RateBudget, bucket: Bucket) -> None:
        self._budget, self._bucket = budget, bucket

    def take_one(self) -> bool:
        return not self._budget.limited(self._bucket) or self._budget.take(self._bucket).granted == 1


class Sweeper:
    """Finds due jobs in the sparse `due` index (never a Scan), oldest-due first, and drives each one."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        jobs: JobRepository,
        writes: JobWrites,
        submission: JobSubmission,
        refresher: JobRefresher,
        rate_budget: RateBudget,
        worker_pool: WorkerPool,
        sleep: Callable[[float], None],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._jobs = jobs
        self._writes = writes
        self._submission = submission
        self._refresher = refresher
        self._rate_budget = rate_budget
        self._worker_pool = worker_pool
        self._sleep = sleep

    def run(self, remaining_seconds: Callable[[], float]) -> SweepReport:
        """One invocation: a single pass ("one-shot"), or ("continuous") a pass every few seconds until
        about `sweep_continuous_seconds` have gone by, so that jobs are seen within seconds of being due.

        It never starts a job with less than `sweep_stop_margin_seconds` of the invocation left.
        """
        report = SweepReport()
        settings = self._settings
        started_with = remaining_seconds()
        with self._worker_pool(settings.sweep_concurrency) as pool:
            while True:
                self._sweep_pass(pool, report, remaining_seconds)
                report.passes += 1
                elapsed = started_with - remaining_seconds()
                next_pass_at = elapsed + settings.sweep_pass_interval_seconds
                if (
                    settings.sweep_mode == "one-shot"
                    or report.stopped_early
                    or next_pass_at > settings.sweep_continuous_seconds
                    or started_with - next_pass_at <= settings.sweep_stop_margin_seconds
                ):
                    break
                self._sleep(settings.sweep_pass_interval_seconds)
        for outcome, count in report.outcomes.items():
            record_metric(name=f"Sweep_{outcome}", unit=MetricUnit.Count, value=count)
        pending = self._jobs.totals(None).counts[JobStatus.PENDING]
        record_metric(name="PendingJobs", unit=MetricUnit.Count, value=pending)
        logger.info(
            "Sweep finished",
            extra={"outcomes": dict(report.outcomes), "passes": report.passes, "stopped_early": report.stopped_early},
        )
        return report

    def _sweep_pass(self, pool: Executor, report: SweepReport, remaining_seconds: Callable[[], float]) -> None:
        """Each provider's jobs on that provider's budget: every provider's, enabled or not, so that no job is
        stranded when a provider is turned off."""
        seen: set[str] = set()
        for provider in PROVIDER_NAMES:
            if not self._sweep_provider(provider, pool, seen, report, remaining_seconds):
                return

    def _sweep_provider(
        self,
        provider: ProviderName,
        pool: Executor,
        seen: set[str],
        report: SweepReport,
        remaining_seconds: Callable[[], float],
    ) -> bool:
        """Due polls first (oldest due first), which frees provider slots; then pending jobs, first come
        first served, as far as slots are free. Pending jobs past the maximum age come with the polls,
        slot or not, so that they time out. False when time ran short."""
        jobs, page_size = self._jobs, self._settings.sweep_batch_size
        now = self._clock.now()
        too_old = now - timedelta(seconds=self._settings.max_job_age_seconds)
        submit_shard, poll_shard = due_shard(SUBMIT_SHARD, provider), due_shard(POLL_SHARD, provider)
        polls = itertools.chain(
            jobs.due_job_ids(too_old, page_size=page_size, shard=submit_shard),
            jobs.due_job_ids(now, page_size=page_size, shard=poll_shard),
        )
        retrieves = budget_bucket(provider, "retrieve")
        if not self._drain(pool, polls, seen, report, remaining_seconds, bucket=retrieves):
            return False
        pending: Iterator[str] = jobs.due_job_ids(now, page_size=page_size, shard=submit_shard)
        if (free := self._free_slots(provider)) is not None:
            pending = itertools.islice(pending, free)
        return self._drain(pool, pending, seen, report, remaining_seconds, bucket=budget_bucket(provider, "create"))

    def _free_slots(self, provider: ProviderName) -> int | None:
        """How many more of the provider's jobs may start now, when a slot limit applies (None: no limit)."""
        overall, own = self._settings.max_jobs_in_flight, self._settings.slot_cap(provider)
        if not overall and own is None:
            return None
        totals = self._jobs.totals(None)
        free = [overall - totals.in_flight] if overall else []
        if own is not None:
            free.append(own - totals.in_flight_by_provider.get(provider, 0))
        return max(0, min(free))

    def _drain(
        self,
        pool: Executor,
        job_ids: Iterator[str],
        seen: set[str],
        report: SweepReport,
        remaining_seconds: Callable[[], float],
        *,
        bucket: Bucket,
    ) -> bool:
        """Sweeps the jobs with bounded concurrency, each with a request reserved from the budget.

        Jobs left over when the budget is spent stay due for the next pass. False when it stopped
        because time ran short.
        """
        concurrency = self._settings.sweep_concurrency
        requests = _ReservedRequests(self._rate_budget, bucket)
        in_flight: set[Future[SweepOutcome]] = set()
        finished = True
        for job_id in job_ids:
            if job_id in seen:
                continue
            if len(in_flight) >= concurrency:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                self._collect(done, report)
            if remaining_seconds() <= self._settings.sweep_stop_margin_seconds:
                report.stopped_early = True
                finished = False
                break
            if not requests.take_one():
                report.budget_waits[bucket] += 1
                record_metric(name="RateBudgetWaits", unit=MetricUnit.Count, value=1)
                break
            seen.add(job_id)
            in_flight.add(pool.submit(self.sweep_job, job_id, budget_reserved=True))
        done, _ = wait(in_flight)
        self._collect(done, report)
        return finished

    @staticmethod
    def _collect(done: set[Future[SweepOutcome]], report: SweepReport) -> None:
        for future in done:
            report.outcomes[future.result().value] += 1

    def sweep_job(self, job_id: str, *, budget_reserved: bool = False) -> SweepOutcome:
        """Claims one due job and moves it on. Any failure leaves it for the next sweep, never lost."""
        try:
            return self._sweep_claimed(job_id, budget_reserved)
        except TransitionConflict:
            return SweepOutcome.SKIPPED
        except Exception:
            logger.exception("Sweep could not handle a job; it stays due", extra={"job_id": job_id})
            return SweepOutcome.ERROR

    def _sweep_claimed(self, job_id: str, budget_reserved: bool) -> SweepOutcome:
        now = self._clock.now()
        job = self._jobs.claim(job_id, now, self._settings.sweep_lease_seconds)
        if job is None:
            return SweepOutcome.SKIPPED
        if not job.is_unfinished:
            self._writes.write(job, transition_to_unscheduled(job))
            return SweepOutcome.UNSCHEDULED
        if timeout_error(job, now, self._settings) is not None:
            return self._time_out(job, budget_reserved)
        if job.status is JobStatus.PENDING:
            submitted = self._submission.submit_pending(job, budget_reserved=budget_reserved)
            if submitted.status is JobStatus.PENDING and not submitted.admitted:
                return SweepOutcome.AWAITING_ADMISSION
            return SweepOutcome.SUBMITTED
        if job.awaiting_storage:
            self._writes.write(job, transition_to_store_requested(job, now))
            return SweepOutcome.STORE_REQUESTED
        self._refresher.refresh(job, budget_reserved=budget_reserved)
        return SweepOutcome.POLLED

    def _time_out(self, job: Job, budget_reserved: bool) -> SweepOutcome:
        """Fails a stuck job, after one last look at its provider: a provider that reports no progress (fal)
        may have finished the generation since the last poll, and a made and paid-for video must not be
        thrown away. When the budget grants no look, the job stays due and the next sweep judges it."""
        looked = job
        if job.provider_video_id is not None and job.status is not JobStatus.PENDING:
            look = self._refresher.refresh(job, budget_reserved=budget_reserved)
            if look.budget_denied:
                return SweepOutcome.SKIPPED
            looked = look.job
        now = self._clock.now()
        if (error := timeout_error(looked, now, self._settings)) is None:
            return SweepOutcome.POLLED
        logger.warning("Job timed out", extra={"job_id": looked.id, "reason": error.message})
        self._writes.write(looked, transition_to_failed(looked, error, now))
        return SweepOutcome.TIMED_OUT
