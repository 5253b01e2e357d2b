"""The scheduled sweep: polls every due job with bounded concurrency and stops before its time runs out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.logic.jobs import JobService
from sorajobs.logic.lifecycle import STORE_RECHECK_DELAY, timeout_error, transition_to_failed
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.job import JobStatus
from sorajobs.observability import metrics
from sorajobs.services import Services

logger = Logger(child=True)


class SweepOutcome(StrEnum):
    POLLED = "polled"
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"
    STORE_REQUESTED = "store_requested"
    UNSCHEDULED = "unscheduled"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass
class SweepReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped_early: bool = False

    @property
    def handled(self) -> int:
        return sum(self.outcomes.values())


class Sweeper:
    """Finds due jobs in the sparse `due` index (never a Scan), oldest-due first, and drives each one."""

    def __init__(self, services: Services, jobs: JobService | None = None) -> None:
        self._services = services
        self._settings = services.settings
        self._jobs = jobs or JobService(services)

    def run(self, remaining_seconds: Callable[[], float]) -> SweepReport:
        report = SweepReport()
        margin = self._settings.sweep_stop_margin_seconds
        concurrency = self._settings.sweep_concurrency
        in_flight: set[Future[SweepOutcome]] = set()
        due = self._services.jobs.due_job_ids(self._services.clock.now(), page_size=self._settings.sweep_batch_size)
        _ = self._services.provider  # built once here, shared by the worker threads
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
            for job_id in due:
                if remaining_seconds() <= margin:
                    report.stopped_early = True
                    break
                if len(in_flight) >= concurrency:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    self._collect(done, report)
                in_flight.add(pool.submit(self.sweep_job, job_id))
            done, _ = wait(in_flight)
            self._collect(done, report)
        for outcome, count in report.outcomes.items():
            metrics.add_metric(name=f"Sweep_{outcome}", unit=MetricUnit.Count, value=count)
        logger.info("Sweep finished", extra={"outcomes": dict(report.outcomes), "stopped_early": report.stopped_early})
        return report

    @staticmethod
    def _collect(done: set[Future[SweepOutcome]], report: SweepReport) -> None:
        for future in done:
            report.outcomes[future.result().value] += 1

    def sweep_job(self, job_id: str) -> SweepOutcome:
        """Claims one due job and moves it on. Any failure leaves it for the next sweep, never lost."""
        try:
            return self._sweep_claimed(job_id)
        except TransitionConflict:
            return SweepOutcome.SKIPPED
        except Exception:
            logger.exception("Sweep could not handle a job; it stays due", extra={"job_id": job_id})
            return SweepOutcome.ERROR

    def _sweep_claimed(self, job_id: str) -> SweepOutcome:
        now = self._services.clock.now()
        job = self._services.jobs.claim(job_id, now, self._settings.sweep_lease_seconds)
        if job is None:
            return SweepOutcome.SKIPPED
        if not job.is_unfinished:
            self._services.jobs.save_transition(job, job.model_copy(update={"next_poll_at": None, "lease_until": None}))
            return SweepOutcome.UNSCHEDULED
        if (error := timeout_error(job, now, self._settings)) is not None:
            logger.warning("Job timed out", extra={"job_id": job.id, "reason": error.message})
            self._services.jobs.save_transition(job, transition_to_failed(job, error, now))
            return SweepOutcome.TIMED_OUT
        if job.status is JobStatus.PENDING:
            self._jobs.submit_pending(job)
            return SweepOutcome.SUBMITTED
        if job.awaiting_storage:
            requeued = job.model_copy(
                update={
                    "store_requested_at": now,
                    "next_poll_at": now + STORE_RECHECK_DELAY,
                    "lease_until": None,
                }
            )
            saved = self._services.jobs.save_transition(job, requeued)
            self._jobs.request_store(saved)
            return SweepOutcome.STORE_REQUESTED
        self._jobs.refresh(job)
        return SweepOutcome.POLLED
