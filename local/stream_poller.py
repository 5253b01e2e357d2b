"""The DynamoDB stream event source mapping of WebhookEventsFunction, over moto's stream of the jobs table.

Like Lambda's poller: records are read in order per shard, filtered by the template's FilterCriteria
(the `pk` prefix), handed over in batches, and with ReportBatchItemFailures the shard resumes at the
first failed record.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from local.background import RepeatingThread
from local.lambda_runtime import LocalFunctions
from local.template import resource

log = logging.getLogger("local.stream_poller")

FUNCTION_ID = "WebhookEventsFunction"
POLL_INTERVAL_SECONDS = 0.1  # moto's streams have no long polling


def _stream_event_properties() -> dict[str, Any]:
    for event in resource(FUNCTION_ID)["Properties"]["Events"].values():
        if event["Type"] == "DynamoDB":
            properties: dict[str, Any] = event["Properties"]
            return properties
    raise LookupError(f"{FUNCTION_ID} has no DynamoDB event in template.yaml")


def _key_prefixes() -> list[str]:
    """The `pk` prefixes of the template's filter (the only filter shape this project uses)."""
    prefixes = []
    for entry in _stream_event_properties().get("FilterCriteria", {}).get("Filters", []):
        pattern = json.loads(entry["Pattern"])
        for rule in pattern["dynamodb"]["Keys"]["pk"]["S"]:
            prefixes.append(rule["prefix"])
    return prefixes


class StreamPoller:
    """`drain()` hands over whatever the stream holds now; `start()` polls it in a thread."""

    def __init__(self, functions: LocalFunctions, streams_client: Any, stream_arn: str) -> None:
        self.functions = functions
        self.streams = streams_client
        self.stream_arn = stream_arn
        properties = _stream_event_properties()
        self.batch_size = int(properties.get("BatchSize", 100))
        self.prefixes = _key_prefixes()
        self._iterators: dict[str, str] = {}
        self._thread = RepeatingThread(
            "local-stream-poller",
            self.poll_once,
            log=log,
            failure_message="reading the jobs table's stream failed",
            pause_seconds=POLL_INTERVAL_SECONDS,
        )
        self._lock = threading.Lock()

    def _shard_iterators(self) -> dict[str, str]:
        if self._iterators:  # moto's stream has one shard for the table's life, and it never closes
            return self._iterators
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        return self._iterators

    def _wanted(self, record: dict[str, Any]) -> bool:
        key = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
        return not self.prefixes or any(key.startswith(prefix) for prefix in self.prefixes)

    def poll_once(self) -> tuple[int, bool]:
        """Reads each shard once and runs the function on the wanted records.

        Returns how many records were read, and whether the function reported a failure."""
        read, failed = 0, False
        with self._lock:
            for shard_id, iterator in list(self._shard_iterators().items()):
                response = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
                read += len(response.get("Records", []))
                records = [record for record in response.get("Records", []) if self._wanted(record)]
                next_iterator = response.get("NextShardIterator")
                if records:
                    failed_at = self._invoke(records)
                    if failed_at is not None:  # resume at the first failed record
                        failed = True
                        next_iterator = self.streams.get_shard_iterator(
                            StreamArn=self.stream_arn,
                            ShardId=shard_id,
                            ShardIteratorType="AT_SEQUENCE_NUMBER",
                            SequenceNumber=failed_at,
                        )["ShardIterator"]
                if next_iterator:
                    self._iterators[shard_id] = next_iterator
        return read, failed

    def _invoke(self, records: list[dict[str, Any]]) -> str | None:
        try:
            result = self.functions.invoke(FUNCTION_ID, {"Records": records})
        except Exception:
            log.exception("%s failed; the batch is read again", FUNCTION_ID)
            return str(records[0]["dynamodb"]["SequenceNumber"])
        failures = (result or {}).get("batchItemFailures") or []
        if failures:
            log.warning("%s reported %d failed record(s); reading from the first again", FUNCTION_ID, len(failures))
            return str(failures[0]["itemIdentifier"])
        return None

    def drain(self) -> int:
        """Polls until the stream has nothing new (or a batch failed); returns how many records were read."""
        total = 0
        while True:
            read, failed = self.poll_once()
            total += read
            if read == 0 or failed:
                return total

    def start(self) -> StreamPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()
