"""The provider's own webhooks (`video.completed`, `video.failed`): verified, deduplicated, and turned
into an immediate refresh of the job, so that it finishes without waiting for the sweep.

The sweep stays on as the safety net; both write through the same conditional job writes, so
neither can undo what the other did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sorajobs.clock import Clock
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.webhooks import WebhookRepository
from sorajobs.logic.job_writes import JobWrites
from sorajobs.logic.lifecycle import transition_to_due_now
from sorajobs.logic.refresh import JobRefresher
from sorajobs.models.errors import DomainError, TransitionConflict, WebhookSignatureInvalid
from sorajobs.observability import record_metric
from sorajobs.signing import WebhookSecret, WebhookSignatureError, verify

logger = Logger(child=True)

# The provider retries for up to 72 h; its event ids are remembered a day longer.
PROVIDER_EVENT_MEMORY = timedelta(hours=96)
HANDLED_TYPES = frozenset({"video.completed", "video.failed"})
# Remembered as a DynamoDB key (2048 bytes at most); Standard Webhooks ids are far shorter.
MAX_WEBHOOK_ID_CHARS = 256


class ProviderEventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=256)]


class ProviderEvent(BaseModel):
    """`{"id": "evt_…", "object": "event", "created_at": …, "type": "video.completed", "data": {"id": "video_…"}}`"""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=256)]
    type: Annotated[str, Field(min_length=1, max_length=128)]
    created_at: int | None = None
    data: ProviderEventData


class InvalidProviderEvent(DomainError):
    status_code = 400
    code = "invalid_event"


class InboundOutcome(StrEnum):
    REFRESHED = "refreshed"
    DUE_NOW = "due_now"  # the provider budget was spent: the sweep takes the job on its next pass
    PROVIDER_FAULT = "provider_fault"  # the refresh failed or our key was refused; the sweep retries
    ALREADY_FINISHED = "already_finished"
    UNKNOWN_VIDEO = "unknown_video"
    DUPLICATE = "duplicate"
    IGNORED_TYPE = "ignored_type"


def handle_once(
    webhooks: WebhookRepository, event_key: str, now: datetime, handle: Callable[[], InboundOutcome]
) -> InboundOutcome:
    """Runs `handle` for the first delivery of an event; a later one is a DUPLICATE. If handling fails, the event
    is forgotten, so the provider's retry gets another go."""
    if not webhooks.remember_provider_event(event_key, now, PROVIDER_EVENT_MEMORY):
        logger.info("Provider webhook seen before; ignored", extra={"event_key": event_key})
        return InboundOutcome.DUPLICATE
    try:
        outcome = handle()
    except Exception:
        webhooks.forget_provider_event(event_key)
        raise
    record_metric(name=f"ProviderWebhooks_{outcome.value}", unit=MetricUnit.Count, value=1)
    return outcome


class ProviderWebhookReceiver:
    def __init__(
        self,
        *,
        clock: Clock,
        jobs: JobRepository,
        refresher: JobRefresher,
        writes: JobWrites,
        webhooks: WebhookRepository,
        signing_secrets: Callable[[], Sequence[WebhookSecret]],
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._refresher = refresher
        self._writes = writes
        self._webhooks = webhooks
        self._signing_secrets = signing_secrets

    def receive(self, body: bytes, headers: Mapping[str, str]) -> InboundOutcome:
        """Verifies the signature (else 401, nothing changes), then handles each event id once."""
        now = self._clock.now()
        try:
            webhook_id = verify(self._signing_secrets(), body=body, headers=headers, now=now.timestamp())
        except WebhookSignatureError as failure:
            record_metric(name="ProviderWebhooksRejected", unit=MetricUnit.Count, value=1)
            logger.warning("Provider webhook refused", extra={"reason": failure.reason})
            raise WebhookSignatureInvalid(f"The webhook signature is not valid ({failure.reason}).") from failure
        if len(webhook_id) > MAX_WEBHOOK_ID_CHARS:
            raise InvalidProviderEvent(f"The webhook-id header is longer than {MAX_WEBHOOK_ID_CHARS} characters.")
        try:
            event = ProviderEvent.model_validate_json(body)
        except ValidationError as invalid:
            raise InvalidProviderEvent("The webhook body is not a provider event.") from invalid
        outcome = handle_once(self._webhooks, webhook_id, now, lambda: self._handle(event))
        logger.info(
            "Provider webhook handled",
            extra={"webhook_id": webhook_id, "type": event.type, "video_id": event.data.id, "outcome": outcome.value},
        )
        return outcome

    def _handle(self, event: ProviderEvent) -> InboundOutcome:
        if event.type not in HANDLED_TYPES:
            return InboundOutcome.IGNORED_TYPE
        job = self._jobs.find_by_provider_video_id(event.data.id)
        if job is None:
            logger.warning("Provider webhook for a video no job knows", extra={"video_id": event.data.id})
            return InboundOutcome.UNKNOWN_VIDEO
        if not job.is_unfinished or job.awaiting_storage:
            return InboundOutcome.ALREADY_FINISHED
        look = self._refresher.refresh(job)
        if look.budget_denied:
            # The provider budget is spent: make the job due at once, for the sweep's next pass.
            now = self._clock.now()
            with contextlib.suppress(TransitionConflict):  # someone else moved it on meanwhile
                self._writes.write(look.job, transition_to_due_now(look.job, now))
            return InboundOutcome.DUE_NOW
        if look.provider_fault:
            return InboundOutcome.PROVIDER_FAULT  # recorded on the job, with the provider's delay if it named one
        return InboundOutcome.REFRESHED
