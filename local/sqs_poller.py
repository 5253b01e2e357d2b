"""The SQS event source mappings (StoreVideoFunction, DeliverWebhookFunction): receive, invoke, delete
what succeeded.

Like Lambda's poller with ReportBatchItemFailures, messages listed in `batchItemFailures` (or the whole
batch when the handler raises) are left alone and come back after the queue's visibility timeout.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from local.background import RepeatingThread
from local.lambda_runtime import REGION, LocalFunctions
from local.template import resource

log = logging.getLogger("local.sqs_poller")


def _batch_size(function_id: str) -> int:
    for event in resource(function_id)["Properties"]["Events"].values():
        if event["Type"] == "SQS":
            return int(event["Properties"].get("BatchSize", 10))
    raise LookupError(f"{function_id} has no SQS event in template.yaml")


def _lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API message attributes in the event source's spelling."""
    converted = {}
    for name, value in attributes.items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"],
        }
    return converted


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of an SQS event (the shape of events/store_video.json) for a received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class SqsPoller:
    """One queue feeding one function. `drain()` handles whatever the queue holds now; `start()`
    long-polls it in a thread."""

    def __init__(
        self,
        functions: LocalFunctions,
        sqs_client: Any,
        queue_url: str,
        function_id: str,
        *,
        batch_size: int | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self.functions = functions
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.function_id = function_id
        self.batch_size = batch_size or _batch_size(function_id)
        self.wait_seconds = wait_seconds
        self.queue_arn: str = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._thread = RepeatingThread(
            f"local-{function_id}",
            lambda: self.poll_once(self.wait_seconds),
            log=log,
            failure_message=f"receiving for {function_id} failed",
        )
        self._lock = threading.Lock()  # drain() and the thread never hand out the same messages twice

    def build_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [sqs_record(message, self.queue_arn) for message in messages]}

    def poll_once(self, wait_seconds: int = 0) -> dict[str, Any] | None:
        """Receives one batch and runs the function on it; None when the queue had nothing."""
        with self._lock:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = received.get("Messages", [])
            if not messages:
                return None
            try:
                result = self.functions.invoke(self.function_id, self.build_event(messages))
            except Exception:
                log.exception("%s failed; the batch returns after the visibility timeout", self.function_id)
                return {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
            failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures") or []}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            if failed:
                log.warning("%s reported %d failed message(s); they will be retried", self.function_id, len(failed))
            return dict(result or {"batchItemFailures": []})

    def drain(self) -> list[dict[str, Any]]:
        """Runs the function on batches until the queue has nothing visible; returns each batch's response.

        Stops after a batch with failures, as those messages stay invisible until their timeout.
        """
        results = []
        while (result := self.poll_once()) is not None:
            results.append(result)
            if result.get("batchItemFailures"):
                break
        return results

    def start(self) -> SqsPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()
