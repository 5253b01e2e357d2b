"""The queues between functions: store-video requests, and webhook delivery attempts."""

from __future__ import annotations

import math
from typing import Any

from sorajobs.models.messages import StoreVideoMessage
from sorajobs.models.webhooks import WebhookDeliveryMessage

# SQS holds a message back for at most 15 minutes; longer waits are made of several hops.
SQS_MAX_DELAY_SECONDS = 900


class StoreVideoQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def request_store(self, message: StoreVideoMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.model_dump_json())


class WebhookDeliveryQueue:
    """Delivery attempts, each held back until its time (up to `max_delay_seconds` per hop)."""

    def __init__(
        self, sqs_client: Any, queue_url: str, dead_letter_url: str, max_delay_seconds: int = SQS_MAX_DELAY_SECONDS
    ) -> None:
        self._sqs = sqs_client
        self._url = queue_url
        self._dead_letter_url = dead_letter_url
        self._max_delay = min(max_delay_seconds, SQS_MAX_DELAY_SECONDS)

    def send(self, message: WebhookDeliveryMessage, delay_seconds: float = 0.0) -> None:
        delay = min(self._max_delay, max(0, math.ceil(delay_seconds)))
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.model_dump_json(), DelaySeconds=delay)

    def send_to_dead_letter(self, body: str) -> None:
        self._sqs.send_message(QueueUrl=self._dead_letter_url, MessageBody=body)
