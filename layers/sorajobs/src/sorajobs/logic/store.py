"""The store-video step: streams a finished generation from the provider into S3, then completes the job."""

from __future__ import annotations

from contextlib import suppress
from enum import StrEnum

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.storage import VideoStorage
from sorajobs.logic.lifecycle import Change, transition_to_completed, transition_to_failed
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.job import Job, JobError, JobStatus, StoredObject
from sorajobs.models.messages import StoreVideoMessage
from sorajobs.observability import record_metric
from sorajobs.providers.base import ContentUnavailableError, ContentVariant, ProviderLookup

logger = Logger(child=True)

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
FILE_NAMES = {"video": "video.mp4", "thumbnail": "thumbnail.webp"}


class StoreOutcome(StrEnum):
    STORED = "stored"
    ALREADY_STORED = "already_stored"
    STALE = "stale"
    CONTENT_EXPIRED = "content_expired"


def attempt_prefix(job_id: str, attempt: int) -> str:
    return f"videos/{job_id}/attempt-{attempt}/"


def object_key(job: Job, variant: ContentVariant) -> str:
    return attempt_prefix(job.id, job.attempt) + FILE_NAMES[variant]


class VideoStorer:
    def __init__(self, *, clock: Clock, jobs: JobRepository, providers: ProviderLookup, storage: VideoStorage) -> None:
        self._clock = clock
        self._jobs = jobs
        self._provider = providers
        self._storage = storage

    def store(self, message: StoreVideoMessage) -> StoreOutcome:
        """Idempotent: a redelivered message for a stored or abandoned attempt is acknowledged and dropped.

        Temporary faults (network, provider, S3) raise, so the queue delivers the message again.
        """
        job = self._jobs.get(message.job_id)
        # Whatever an earlier try of this attempt left unfinished goes first, whatever this request finds: a
        # stored or abandoned attempt's keys are never used again, and a try that fails early (at the video)
        # still clears the thumbnail upload of a try that was killed after it.
        self._abort_leftover_uploads(message)
        if job is not None and job.status is JobStatus.COMPLETED and job.attempt == message.attempt:
            return StoreOutcome.ALREADY_STORED
        if (
            job is None
            or not job.awaiting_storage
            or job.provider_video_id != message.provider_video_id
            or job.attempt != message.attempt
        ):
            logger.info(
                "Dropping a store request for an attempt that no longer awaits storage",
                extra={"job_id": message.job_id, "provider_video_id": message.provider_video_id},
            )
            return StoreOutcome.STALE
        try:
            video = self._copy(job, "video")
        except ContentUnavailableError as gone:
            error = JobError(code="content_expired", message=f"The provider no longer serves the video: {gone.message}")
            self._save(job, transition_to_failed(job, error, self._clock.now()))
            return StoreOutcome.CONTENT_EXPIRED
        thumbnail: StoredObject | None = None
        if self._provider(job.provider).capabilities.thumbnails:
            with suppress(ContentUnavailableError):  # a thumbnail is a nicety; the video is what was paid for
                thumbnail = self._copy(job, "thumbnail")
        self._save(job, transition_to_completed(job, video, thumbnail, self._clock.now()))
        record_metric(name="VideosStored", unit=MetricUnit.Count, value=1)
        record_metric(name="StoredVideoBytes", unit=MetricUnit.Bytes, value=video.bytes)
        logger.info("Video stored", extra={"job_id": job.id, "bytes": video.bytes, "sha256": video.sha256})
        return StoreOutcome.STORED

    def _abort_leftover_uploads(self, message: StoreVideoMessage) -> None:
        """Aborts the attempt's unfinished uploads: what a delivery killed mid-upload left behind."""
        self._storage.abort_unfinished_uploads(attempt_prefix(message.job_id, message.attempt))

    def _copy(self, job: Job, variant: ContentVariant) -> StoredObject:
        provider_video_id = job.provider_video_id or ""  # set on every job that awaits storage
        with self._provider(job.provider).download(provider_video_id, variant) as download:
            return self._storage.upload_stream(
                object_key(job, variant),
                download.iter_chunks(DOWNLOAD_CHUNK_BYTES),
                content_type=download.content_type,
                expected_bytes=download.content_length,
            )

    def _save(self, before: Job, change: Change) -> None:
        try:
            self._jobs.save_transition(before, change.job)
        except TransitionConflict:
            # A reset or another delivery won; a second look decides whether this delivery still matters.
            current = self._jobs.get(before.id)
            if current is None or current.status is not JobStatus.COMPLETED:
                raise
