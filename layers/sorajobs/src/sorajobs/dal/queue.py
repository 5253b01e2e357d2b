"""The queue that feeds the store-video step."""

from __future__ import annotations

from typing import Any

from sorajobs.models.messages import StoreVideoMessage


class StoreVideoQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def request_store(self, message: StoreVideoMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.model_dump_json())
