"""One delivery attempt per queue message: sign, POST, record, and queue the next attempt or give up.

The retry schedule (Standard Webhooks style): immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h. SQS holds a message back for 15 minutes at most, so a longer wait is several hops: a
message that arrives before its `not_before` goes back on the queue with the time that is left.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from sorajobs.clock import Clock
from sorajobs.config import DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS, LONGEST_RETRY_DELAY_SECONDS, Settings
from sorajobs.dal.queue import WebhookDeliveryQueue
from sorajobs.dal.webhooks import WebhookRepository
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.webhooks import (
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookDeliveryMessage,
    WebhookDestination,
)
from sorajobs.observability import record_metric
from sorajobs.retry_after import parse_retry_after
from sorajobs.signing import WebhookSecret, sign
from sorajobs.url_guard import Resolver, WebhookUrlRefused, check_delivery_address, check_webhook_url

logger = Logger(child=True)

# Waits before attempts 2..8 (WEBHOOK_RETRY_DELAYS_SECONDS may set others); attempt 1 goes out at once.
RETRY_DELAYS_SECONDS = DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS
# Longer than a whole attempt (15 s timeout), shorter than the queue's visibility timeout: a worker
# that dies mid-attempt loses its claim before SQS hands the message out again.
CLAIM_HOLD = timedelta(seconds=45)
# Retry-After is honoured up to this long.
MAX_RETRY_AFTER = timedelta(hours=10)
# No attempt is ever due further ahead than this: the schedule's longest wait or a capped Retry-After,
# and a minute of clock skew between functions.
LONGEST_WAIT = max(timedelta(seconds=LONGEST_RETRY_DELAY_SECONDS), MAX_RETRY_AFTER) + timedelta(minutes=1)
MAX_STORED_ATTEMPTS = 50
RETRY_AFTER_STATUSES = frozenset({429, 503})


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    EXHAUSTED = "exhausted"
    ENDPOINT_DISABLED = "endpoint_disabled"
    WAITING = "waiting"  # arrived early; back on the queue for the time that is left
    NOT_NEXT = "not_next"  # a duplicate message, an attempt another worker holds, or one a replay replaced
    DROPPED = "dropped"  # due further ahead than any attempt waits: no attempt sent it


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str | None
    retry_after: timedelta | None


def retry_after_delay(header: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a wait, capped; None when absent or malformed."""
    seconds = parse_retry_after(header, now)
    if seconds is None:
        return None
    return timedelta(seconds=min(seconds, MAX_RETRY_AFTER.total_seconds()))


def next_attempt_delay(
    attempt: int, result: AttemptResult, delays: Sequence[int] = RETRY_DELAYS_SECONDS
) -> timedelta | None:
    """The wait before the attempt after `attempt`, or None when the schedule (`delays`) is used up."""
    if attempt > len(delays):
        return None
    scheduled = timedelta(seconds=delays[attempt - 1])
    if result.retry_after is not None and result.status_code in RETRY_AFTER_STATUSES:
        return max(scheduled, result.retry_after)
    return scheduled


def delivery_request(
    client: httpx.Client, url: str, *, content: bytes, headers: dict[str, str], connect_to: str | None
) -> httpx.Request:
    """The POST of one attempt to ``url``. With ``connect_to`` (an IP address that passed the address check)
    it connects to exactly that address, while the Host header, TLS SNI and the certificate check use the
    URL's host: httpx resolving the name again could get another answer (DNS rebinding)."""
    # No connection outlives its request: the pool keys connections by IP and port, and must not hand
    # one whose certificate was checked for one host name to a request for another.
    headers = {**headers, "connection": "close"}
    if connect_to is None:
        return client.build_request("POST", url, content=content, headers=headers)
    target = httpx.URL(url)
    return client.build_request(
        "POST",
        target.copy_with(host=connect_to),  # brackets an IPv6 address and keeps the port
        content=content,
        headers={**headers, "host": target.netloc.decode("ascii")},
        extensions={"sni_hostname": target.host},  # httpcore's name for TLS SNI and the certificate check
    )


class WebhookDeliverer:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        webhooks: WebhookRepository,
        webhook_queue: WebhookDeliveryQueue,
        http: httpx.Client,
        signing_secrets: Callable[[], Sequence[WebhookSecret]],
        resolve_host: Resolver,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._webhooks = webhooks
        self._webhook_queue = webhook_queue
        self._http = http
        self._signing_secrets = signing_secrets
        self._resolve_host = resolve_host

    def deliver(self, message: WebhookDeliveryMessage) -> DeliveryOutcome:
        now = self._clock.now()
        if message.not_before - now > LONGEST_WAIT:
            # Passed on, it would come back every 15 minutes until then (for ever, in effect).
            logger.warning(
                "Dropping a delivery message due further ahead than any attempt waits",
                extra={"delivery_id": message.delivery_id, "not_before": message.not_before.isoformat()},
            )
            return DeliveryOutcome.DROPPED
        if message.not_before > now:
            self._webhook_queue.send(message, (message.not_before - now).total_seconds())
            return DeliveryOutcome.WAITING
        delivery = self._webhooks.claim(
            message.delivery_id, run=message.run, tries=message.attempt - 1, now=now, hold=CLAIM_HOLD
        )
        if delivery is None:
            return DeliveryOutcome.NOT_NEXT
        if self._webhooks.endpoint_disabled(delivery.url):
            self._save(delivery, delivery.model_copy(update={"state": DeliveryState.ENDPOINT_DISABLED}))
            logger.info("Webhook endpoint is disabled (410); not sent", extra=self._log_fields(delivery))
            return DeliveryOutcome.ENDPOINT_DISABLED
        result = self._attempt(delivery, now)
        return self._settle(delivery, message.attempt, now, result)

    def _attempt(self, delivery: WebhookDelivery, now: datetime) -> AttemptResult:
        # Every destination's address is checked now, and the request goes to the address checked: a job's URL
        # (checked at submit; DNS or the allowlist may have changed since) and the deployment's WebhookUrl alike.
        try:
            checked = self._checked_addresses(delivery)
        except WebhookUrlRefused as refused:
            return AttemptResult(status_code=None, duration_ms=0, error=str(refused), retry_after=None)
        checked_address = checked[0] if checked else None  # none for a loopback URL in local mode
        body = delivery.body.encode()
        headers = sign(self._signing_secrets(), msg_id=delivery.event_id, timestamp=int(now.timestamp()), body=body)
        headers["content-type"] = "application/json"
        request = delivery_request(self._http, delivery.url, content=body, headers=headers, connect_to=checked_address)
        started = time.perf_counter()
        try:
            response = self._http.send(request, follow_redirects=False)
        except httpx.HTTPError as failure:
            elapsed = round((time.perf_counter() - started) * 1000)
            return AttemptResult(
                status_code=None,
                duration_ms=elapsed,
                error=f"{type(failure).__name__}: {failure}"[:300],
                retry_after=None,
            )
        elapsed = round((time.perf_counter() - started) * 1000)
        ok = 200 <= response.status_code < 300
        return AttemptResult(
            status_code=response.status_code,
            duration_ms=elapsed,
            error=None if ok else f"HTTP {response.status_code}",
            retry_after=retry_after_delay(response.headers.get("retry-after"), now),
        )

    def _checked_addresses(self, delivery: WebhookDelivery) -> tuple[str, ...]:
        settings = self._settings
        if delivery.destination is WebhookDestination.DEPLOYMENT:
            # The operator's URL is not held to the allowlist of jobs' URLs, but to https and a public address.
            check_webhook_url(
                delivery.url,
                resolve=self._resolve_host,
                allow_local_http=settings.webhook_allow_local_http,
                check_addresses=False,
            )
            allowed_hosts: tuple[str, ...] = ()
        else:
            allowed_hosts = settings.webhook_url_allowed_hosts
        return check_delivery_address(
            delivery.url,
            resolve=self._resolve_host,
            allow_local_http=settings.webhook_allow_local_http,
            allowed_hosts=allowed_hosts,
        )

    def _settle(self, delivery: WebhookDelivery, attempt: int, now: datetime, result: AttemptResult) -> DeliveryOutcome:
        ok = result.status_code is not None and 200 <= result.status_code < 300
        delay = (
            None
            if ok or result.status_code == 410
            else next_attempt_delay(attempt, result, self._settings.webhook_retry_delays_seconds)
        )
        next_retry_at = now + delay if delay is not None else None
        record = DeliveryAttempt(
            attempt=attempt,
            run=delivery.run,
            at=now,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
            next_retry_at=next_retry_at,
        )
        update: dict[str, object] = {
            "tries": attempt,
            "attempts": (*delivery.attempts, record)[-MAX_STORED_ATTEMPTS:],
            "claim_until": None,
            "next_retry_at": next_retry_at,
        }
        fields = {**self._log_fields(delivery), "attempt": attempt, "status_code": result.status_code}
        if ok:
            self._save(delivery, delivery.model_copy(update={**update, "state": DeliveryState.DELIVERED}))
            record_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=1)
            logger.info("Webhook delivered", extra={**fields, "duration_ms": result.duration_ms})
            return DeliveryOutcome.DELIVERED
        record_metric(name="WebhookAttemptsFailed", unit=MetricUnit.Count, value=1)
        if result.status_code == 410:
            self._webhooks.disable_endpoint(delivery.url, now, reason="410 Gone")
            self._save(delivery, delivery.model_copy(update={**update, "state": DeliveryState.ENDPOINT_DISABLED}))
            logger.warning("Webhook endpoint answered 410 Gone; it is disabled", extra=fields)
            return DeliveryOutcome.ENDPOINT_DISABLED
        if delay is None:
            exhausted = delivery.model_copy(update={**update, "state": DeliveryState.EXHAUSTED})
            self._webhook_queue.send_to_dead_letter(self._dead_letter_body(exhausted))
            self._save(delivery, exhausted)
            schedule = [a.model_dump(mode="json") for a in exhausted.attempts if a.run == delivery.run]
            logger.error(
                "Webhook delivery exhausted its retry schedule; sent to the dead-letter queue",
                extra={**fields, "schedule": schedule},
            )
            return DeliveryOutcome.EXHAUSTED
        # The next attempt is queued before this one is recorded: if the record is lost, SQS redelivers
        # this message, whose attempt is still the next, rather than the chain ending.
        self._webhook_queue.send(
            WebhookDeliveryMessage(
                delivery_id=delivery.id, run=delivery.run, attempt=attempt + 1, not_before=next_retry_at or now
            ),
            delay.total_seconds(),
        )
        self._save(delivery, delivery.model_copy(update=update))
        logger.info(
            "Webhook attempt failed; retry scheduled",
            extra={**fields, "error": result.error, "retry_in_seconds": math.ceil(delay.total_seconds())},
        )
        return DeliveryOutcome.RETRY_SCHEDULED

    def _save(self, before: WebhookDelivery, after: WebhookDelivery) -> None:
        try:
            self._webhooks.save(before, after)
        except TransitionConflict:
            logger.info("Webhook delivery changed meanwhile (a replay); its record stands", extra={"id": before.id})

    @staticmethod
    def _dead_letter_body(delivery: WebhookDelivery) -> str:
        return json.dumps(
            {
                "delivery_id": delivery.id,
                "job_id": delivery.job_id,
                "event_id": delivery.event_id,
                "type": delivery.event_type,
                "url": delivery.url,
                "attempts": [a.model_dump(mode="json") for a in delivery.attempts if a.run == delivery.run],
            }
        )

    @staticmethod
    def _log_fields(delivery: WebhookDelivery) -> dict[str, object]:
        return {
            "job_id": delivery.job_id,
            "event_id": delivery.event_id,
            "destination": delivery.destination.value,
            "run": delivery.run,
        }
