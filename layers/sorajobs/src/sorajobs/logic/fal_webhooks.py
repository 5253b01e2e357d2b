"""fal's completion webhooks: verified against fal's published keys, deduplicated, and applied to the job as the
report they are, so a job finishes with no status poll after its webhook (the store step then fetches the result
for the file's URL). The job and attempt come from the query string our create put in `fal_webhook`; the signed
request id must be that attempt's, or nothing changes. The query is not signed, so a genuine delivery sent again
naming another job or attempt is not believed: a create whose answer was lost adopts only a generation no job holds
(nor an earlier attempt of its own), and such a copy never uses up the genuine delivery's once-only handling.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from sorajobs.clock import Clock
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.webhooks import WebhookRepository
from sorajobs.fal_signing import FalSignedDelivery
from sorajobs.logic.lost_creates import LostCreates
from sorajobs.logic.provider_webhooks import InboundOutcome, InvalidProviderEvent, handle_once
from sorajobs.logic.refresh import JobRefresher
from sorajobs.models.errors import WebhookSignatureInvalid
from sorajobs.models.job import Job, JobStatus
from sorajobs.observability import record_metric
from sorajobs.providers.base import ProviderState, ProviderTemporaryError, ProviderVideo
from sorajobs.providers.fal_keys import FalWebhookKeys
from sorajobs.providers.fal_queue import FalWebhookBody, provider_video_id, webhook_report
from sorajobs.signing import WebhookSignatureError

logger = Logger(child=True)


class FalWebhookReceiver:
    def __init__(
        self,
        *,
        clock: Clock,
        jobs: JobRepository,
        refresher: JobRefresher,
        lost_creates: LostCreates,
        webhooks: WebhookRepository,
        keys: FalWebhookKeys,
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._refresher = refresher
        self._lost_creates = lost_creates
        self._webhooks = webhooks
        self._keys = keys

    def receive(
        self, body: bytes, headers: Mapping[str, str], *, job_id: str | None, attempt: int | None
    ) -> InboundOutcome:
        """Verifies the signature (else 401, nothing changes), then handles each request's completion once."""
        now = self._clock.now()
        request_id = self._verified_request_id(body, headers, now.timestamp())
        try:
            event = FalWebhookBody.model_validate_json(body)
        except ValidationError as invalid:
            raise InvalidProviderEvent("The webhook body is not a fal completion.") from invalid
        if event.request_id != request_id:
            raise InvalidProviderEvent("The body's request_id is not the signed one.")
        # Once per request and the job and attempt the (unsigned) query names, so a copy naming others cannot
        # take the genuine delivery's place.
        event_key = f"fal#{request_id}#{job_id}#{attempt}"
        outcome = handle_once(
            self._webhooks, event_key, now, lambda: self._handle(event, job_id, attempt, int(now.timestamp()))
        )
        logger.info("fal webhook handled", extra={"request_id": request_id, "job_id": job_id, "outcome": outcome.value})
        return outcome

    def _verified_request_id(self, body: bytes, headers: Mapping[str, str], now: float) -> str:
        keys = self._keys
        try:
            delivery = FalSignedDelivery.from_headers(headers, now=now)  # stale or malformed: refused before any fetch
            try:
                return delivery.verify(keys.current(), body)
            except WebhookSignatureError:
                fresh = keys.refreshed()
                if fresh is None:
                    raise
                return delivery.verify(fresh, body)  # fal rotated its keys
        except WebhookSignatureError as failure:
            record_metric(name="ProviderWebhooksRejected", unit=MetricUnit.Count, value=1)
            logger.warning("fal webhook refused", extra={"reason": failure.reason})
            raise WebhookSignatureInvalid(f"The webhook signature is not valid ({failure.reason}).") from failure
        except ProviderTemporaryError as unavailable:  # no keys to check against: fal retries the delivery
            raise WebhookSignatureInvalid(f"The webhook cannot be checked now ({unavailable.code}).") from unavailable

    def _handle(self, event: FalWebhookBody, job_id: str | None, attempt: int | None, now: int) -> InboundOutcome:
        job = self._jobs.get(job_id) if job_id else None
        if job is None or job.provider != "fal" or job.attempt != attempt:
            logger.warning("fal webhook for no current attempt", extra={"job_id": job_id, "attempt": attempt})
            return InboundOutcome.UNKNOWN_VIDEO
        video_id = provider_video_id(job.model, event.request_id)
        report = webhook_report(event, video_id, now)
        if self._awaits_lost_create(job):
            if not self._lost_creates.unclaimed_generation(job, video_id):
                logger.warning("fal webhook names a generation that is not this attempt's", extra={"job_id": job.id})
                return InboundOutcome.UNKNOWN_VIDEO
            queued = ProviderVideo(id=video_id, state=ProviderState.QUEUED, status="IN_QUEUE")
            job = self._lost_creates.adopt(job, queued)
        if job.provider_video_id != video_id:
            return InboundOutcome.UNKNOWN_VIDEO
        if not job.is_unfinished or job.awaiting_storage:
            return InboundOutcome.ALREADY_FINISHED
        self._refresher.record_report(job, report)
        return InboundOutcome.REFRESHED

    @staticmethod
    def _awaits_lost_create(job: Job) -> bool:
        return job.status is JobStatus.PENDING and job.provider_video_id is None and job.create_started_at is not None
