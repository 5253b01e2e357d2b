"""From the jobs table's change stream to delivery records and the first attempt of each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.dal.job_items import JOB_KEY_PREFIX, job_from_item
from sorajobs.dal.queue import WebhookDeliveryQueue
from sorajobs.dal.webhooks import WebhookRepository
from sorajobs.logic.lifecycle.events import event_body, produced_event
from sorajobs.logic.render_times import RenderTimeLookup
from sorajobs.models.job import Job
from sorajobs.models.webhooks import (
    DeliveryState,
    WebhookDelivery,
    WebhookDeliveryMessage,
    WebhookDestination,
    WebhookEvent,
)
from sorajobs.observability import record_metric

logger = Logger(child=True)


def is_job_change(record: dict[str, Any]) -> bool:
    """Stream records of job items (not counters, webhook records or idempotency keys)."""
    keys = record.get("dynamodb", {}).get("Keys", {})
    return str(keys.get("pk", {}).get("S", "")).startswith(JOB_KEY_PREFIX)


def job_change(record: dict[str, Any]) -> tuple[Job | None, Job | None]:
    """The old and new job of a stream record (NEW_AND_OLD_IMAGES); a malformed record raises."""
    images = record["dynamodb"]
    old, new = images.get("OldImage"), images.get("NewImage")
    return (job_from_item(old) if old else None), (job_from_item(new) if new else None)


class WebhookOutbox:
    def __init__(
        self,
        *,
        clock: Clock,
        webhooks: WebhookRepository,
        webhook_queue: WebhookDeliveryQueue,
        deployment_url: str,
        render_times: RenderTimeLookup,
    ) -> None:
        self._clock = clock
        self._render_times = render_times
        self._webhooks = webhooks
        self._webhook_queue = webhook_queue
        self._deployment_url = deployment_url  # the deployment-wide endpoint (WebhookUrl); "" for none

    def destinations(self, job: Job) -> list[tuple[WebhookDestination, str]]:
        found = []
        if self._deployment_url:
            found.append((WebhookDestination.DEPLOYMENT, self._deployment_url))
        if job.webhook_url:
            found.append((WebhookDestination.JOB, job.webhook_url))
        return found

    def handle_record(self, record: dict[str, Any]) -> int:
        """Queues the event a stream record carries, once per destination. Returns how many deliveries."""
        if not is_job_change(record) or record.get("eventName") == "REMOVE":
            return 0
        old, new = job_change(record)
        if new is None:
            return 0
        event = produced_event(old, new, self._render_times)
        if event is None:
            return 0
        queued = 0
        for destination, url in self.destinations(new):
            queued += self._queue_delivery(new, event, destination, url)
        return queued

    def _queue_delivery(self, job: Job, event: WebhookEvent, destination: WebhookDestination, url: str) -> int:
        now = self._clock.now()
        delivery = WebhookDelivery(
            id=f"{event.id}.{destination.value}",
            job_id=job.id,
            owner=job.owner,
            event_id=event.id,
            event_type=event.type.value,
            sequence=event.sequence,
            destination=destination,
            url=url,
            body=event_body(event),
            next_retry_at=now,
            created_at=now,
        )
        repository = self._webhooks
        if not repository.create(delivery):
            # The same record again (a retried batch): queue the first attempt only if it never ran.
            stored = repository.get(delivery.id)
            if stored is None or stored.run != 1 or stored.tries != 0 or stored.state is not DeliveryState.SCHEDULED:
                return 0
        self._webhook_queue.send(WebhookDeliveryMessage(delivery_id=delivery.id, run=1, attempt=1, not_before=now))
        record_metric(name="WebhookEventsQueued", unit=MetricUnit.Count, value=1)
        logger.info(
            "Webhook event queued",
            extra={"job_id": job.id, "event_id": event.id, "type": event.type.value, "destination": destination.value},
        )
        return 1
