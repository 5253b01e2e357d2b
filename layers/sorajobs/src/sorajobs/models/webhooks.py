"""Outbound webhook deliveries (one per event and destination), their attempts, and queue messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sorajobs.models.api import UtcTimestamp, VideoJobResponse


class WebhookDestination(StrEnum):
    DEPLOYMENT = "deployment"  # the deployment-wide WEBHOOK_URL
    JOB = "job"  # the job's own webhook_url


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"  # an attempt is queued (now or after a delay)
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"  # every attempt of the schedule failed; sent to the dead-letter queue
    ENDPOINT_DISABLED = "endpoint_disabled"  # the endpoint answered 410 Gone


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempt: Annotated[int, Field(ge=1)]
    run: Annotated[int, Field(ge=1, description="1 for the first delivery, +1 per replay.")]
    at: datetime
    status_code: int | None = None
    duration_ms: Annotated[int, Field(ge=0)] = 0
    error: str | None = None
    next_retry_at: datetime | None = None


class WebhookDelivery(BaseModel):
    """One event on its way to one destination."""

    model_config = ConfigDict(frozen=True)

    id: str
    job_id: str
    owner: str
    event_id: str
    event_type: str
    sequence: Annotated[int, Field(ge=1)]
    destination: WebhookDestination
    url: str
    body: str
    state: DeliveryState = DeliveryState.SCHEDULED
    run: Annotated[int, Field(ge=1)] = 1
    # Attempts finished in the current run.
    tries: Annotated[int, Field(ge=0)] = 0
    attempts: tuple[DeliveryAttempt, ...] = ()
    next_retry_at: datetime | None = None
    # A worker sending the next attempt holds it until then; a crashed worker's claim runs out.
    claim_until: datetime | None = None
    created_at: datetime


class WebhookDeliveryMessage(BaseModel):
    """Asks the delivery worker to make one attempt, not before `not_before`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: Annotated[str, Field(min_length=1)]
    run: Annotated[int, Field(ge=1)]
    attempt: Annotated[int, Field(ge=1)]
    not_before: datetime


# --- HTTP API -----------------------------------------------------------------------------------


class DeliveryAttemptResponse(BaseModel):
    attempt: int
    run: int
    at: UtcTimestamp
    status_code: Annotated[int | None, Field(description="None when no HTTP answer came (timeout, refused).")]
    duration_ms: int
    error: str | None
    next_retry_at: UtcTimestamp | None


class WebhookDeliveryResponse(BaseModel):
    event_id: str
    type: str
    sequence: int
    destination: WebhookDestination
    url: str
    state: DeliveryState
    attempts: list[DeliveryAttemptResponse]
    next_retry_at: UtcTimestamp | None
    replays: int

    @classmethod
    def from_delivery(cls, delivery: WebhookDelivery) -> WebhookDeliveryResponse:
        return cls(
            event_id=delivery.event_id,
            type=delivery.event_type,
            sequence=delivery.sequence,
            destination=delivery.destination,
            url=delivery.url,
            state=delivery.state,
            attempts=[DeliveryAttemptResponse.model_validate(a.model_dump()) for a in delivery.attempts],
            next_retry_at=delivery.next_retry_at if delivery.state is DeliveryState.SCHEDULED else None,
            replays=delivery.run - 1,
        )


class WebhookDeliveryListResponse(BaseModel):
    data: list[WebhookDeliveryResponse]
    next_cursor: Annotated[str | None, Field(description="Pass as `cursor` to get the next page.")]


class ReplayWebhookRequest(BaseModel):
    """Body of `POST /videos/{id}/webhooks/replay`."""

    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[
        str | None,
        Field(
            default=None, pattern=r"^evt_[0-9a-f]{32}$", description="The event to send again; the latest if absent."
        ),
    ] = None


class ReplayWebhookResponse(BaseModel):
    event_id: str
    deliveries: list[WebhookDeliveryResponse]


class WebhookEventType(StrEnum):
    QUEUED = "video.queued"
    IN_PROGRESS = "video.in_progress"
    PROGRESS = "video.progress"
    COMPLETED = "video.completed"
    FAILED = "video.failed"
    CANCELLED = "video.cancelled"
    RESET = "video.reset"


class WebhookEvent(BaseModel):
    """What a client endpoint receives. `sequence` rises by one per job, so a stale event can be dropped."""

    model_config = ConfigDict(frozen=True)

    id: Annotated[str, Field(description="Event id; also the `webhook-id` header, stable across retries.")]
    type: WebhookEventType
    created_at: UtcTimestamp
    sequence: Annotated[int, Field(ge=1)]
    data: VideoJobResponse
