"""The conditional writes of a job's transitions, and what a written transition asks for next: a store request,
the abandoned attempt's uploads released, its render time learned, its detection delay counted."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.queue import StoreVideoQueue
from sorajobs.logic.lifecycle import Change
from sorajobs.logic.render_times import LearnedRenderTimes
from sorajobs.models.errors import JobNotFound, TransitionConflict
from sorajobs.models.job import Job
from sorajobs.models.messages import StoreVideoMessage
from sorajobs.observability import record_metric


class JobWrites:
    """Persists the lifecycle's changes, each only if the stored job is still the one it was made from."""

    def __init__(self, *, jobs: JobRepository, store_queue: StoreVideoQueue, render_times: LearnedRenderTimes) -> None:
        self._jobs = jobs
        self._store_queue = store_queue
        self._render_times = render_times

    def write(self, before: Job, change: Change) -> Job:
        """Writes a transition of `before` and does what it asks for next; TransitionConflict if another
        writer changed the job first."""
        saved = self._jobs.save_transition(before, change.job)
        if change.request_store:
            self.request_store(saved)
        if change.release_uploads:
            # The abandoned attempt goes to the store step once more, which aborts its unfinished uploads.
            self.request_store(before)
        for sample in change.render_samples:
            self._render_times.record(saved, sample)
        if change.detection_delay_seconds is not None:
            record_metric(
                name="DetectionDelay", unit=MetricUnit.Seconds, value=max(0.0, change.detection_delay_seconds)
            )
        return saved

    def apply(self, before: Job, change: Change) -> Job:
        """`write`, where losing to another writer is fine: theirs stands, and the current job is returned."""
        try:
            return self.write(before, change)
        except TransitionConflict:
            return self._current(before)

    def request_store(self, job: Job) -> None:
        """Hands a job's attempt to the store step: a finished generation to copy, or an abandoned attempt
        whose unfinished uploads to abort. If this send is lost, the sweep re-sends a finished one."""
        if job.provider_video_id is None:
            return
        self._store_queue.request_store(
            StoreVideoMessage(job_id=job.id, provider_video_id=job.provider_video_id, attempt=job.attempt)
        )

    def _current(self, job: Job) -> Job:
        current = self._jobs.get(job.id)
        if current is None:
            raise JobNotFound(job.id)
        return current
