"""The delivery log a job's owner sees, and replays."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger

from sorajobs.clock import Clock
from sorajobs.dal.jobs import JobRepository
from sorajobs.dal.queue import WebhookDeliveryQueue
from sorajobs.dal.webhooks import DeliveryPage, WebhookRepository
from sorajobs.logic.queries import Caller
from sorajobs.models.errors import ReplayContended, TransitionConflict, WebhookEventNotFound
from sorajobs.models.webhooks import DeliveryState, WebhookDelivery, WebhookDeliveryMessage

logger = Logger(child=True)

_RESTART_TRIES = 3


class WebhookLog:
    def __init__(
        self, *, clock: Clock, jobs: JobRepository, webhooks: WebhookRepository, webhook_queue: WebhookDeliveryQueue
    ) -> None:
        self._clock = clock
        self._jobs = jobs
        self._webhooks = webhooks
        self._webhook_queue = webhook_queue

    def deliveries(self, caller: Caller, job_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        job = self._jobs.get_for_owner(job_id, caller.owner)
        return self._webhooks.list_for_job(job.id, limit=limit, cursor=cursor)

    def replay(self, caller: Caller, job_id: str, event_id: str | None) -> tuple[str, list[WebhookDelivery]]:
        """Sends an event again (the latest by default) to each of its destinations, with the same
        `webhook-id`, through a fresh run of the retry schedule. An endpoint disabled by a 410 is
        enabled again: a replay is an explicit request to deliver there."""
        job = self._jobs.get_for_owner(job_id, caller.owner)
        deliveries = self._webhooks.all_for_job(job.id)
        if not deliveries:
            raise WebhookEventNotFound("No webhook event of this job was sent to any endpoint.")
        wanted = event_id or max(deliveries, key=lambda delivery: delivery.sequence).event_id
        chosen = [delivery for delivery in deliveries if delivery.event_id == wanted]
        if not chosen:
            raise WebhookEventNotFound(f"This job has no webhook event with id {wanted!r}.")
        now = self._clock.now()
        restarted = []
        for listed in chosen:
            delivery, fresh = self._restart_run(listed, now)
            self._webhooks.enable_endpoint(delivery.url)
            self._webhook_queue.send(
                WebhookDeliveryMessage(delivery_id=fresh.id, run=fresh.run, attempt=1, not_before=now)
            )
            restarted.append(fresh)
        logger.info(
            "Webhook event replayed", extra={"job_id": job.id, "event_id": wanted, "deliveries": len(restarted)}
        )
        return wanted, restarted

    def _restart_run(self, listed: WebhookDelivery, now: datetime) -> tuple[WebhookDelivery, WebhookDelivery]:
        """Starts a new run of the delivery. The log's index may lag the table (a replay right after another),
        and an attempt may settle meanwhile: each try reads the delivery itself, and the replay wins."""
        for _ in range(_RESTART_TRIES):
            delivery = self._webhooks.get(listed.id) or listed
            fresh = delivery.model_copy(
                update={
                    "run": delivery.run + 1,
                    "tries": 0,
                    "state": DeliveryState.SCHEDULED,
                    "claim_until": None,
                    "next_retry_at": now,
                }
            )
            try:
                return delivery, self._webhooks.save(delivery, fresh)
            except TransitionConflict:
                logger.info("Webhook delivery changed while it was replayed; reading it again", extra={"id": listed.id})
        raise ReplayContended(
            f"The delivery {listed.id} kept changing while it was replayed (attempts in flight): replay again in a "
            f"second, or follow it in GET /videos/{listed.job_id}/webhooks."
        )
