"""The jobs table: conditional job writes, status counters, owner listings and the due index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sorajobs.catalog import PROVIDER_NAMES
from sorajobs.dal.conditions import condition_failed
from sorajobs.dal.cursors import decode_cursor, encode_cursor
from sorajobs.dal.expressions import Expression
from sorajobs.dal.job_counters import (
    ALL_OWNERS_STATS_KEY,
    AdmissionLimits,
    CounterUpdates,
    JobTotals,
    TransactItem,
    in_flight_counter,
    owner_stats_key,
)
from sorajobs.dal.job_items import (
    JOB_KEY_PREFIX,
    deserialize,
    job_from_item,
    job_key,
    job_to_attributes,
    serialize,
)
from sorajobs.models.errors import (
    JobNotFound,
    TransitionConflict,
)
from sorajobs.models.job import Job, JobStatus
from sorajobs.timeutil import to_epoch_ms

BY_OWNER_INDEX = "by_owner"
BY_OWNER_STATUS_INDEX = "by_owner_status"
DUE_INDEX = "due"
BY_PROVIDER_VIDEO_INDEX = "by_provider_video"
# Counter items are shared by every job of an owner, so concurrent transactions can collide.
TRANSACTION_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


def _transaction_conflict(error: ClientError) -> bool:
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons", [])
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


class JobRepository:
    def __init__(self, dynamodb_client: Any, table_name: str, limits: AdmissionLimits | None = None) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._counters = CounterUpdates(table_name, limits or AdmissionLimits())

    # --- writes -------------------------------------------------------------------------------

    def create(self, job: Job) -> Job:
        """Stores a new job; its first status is counted in the owner's and the global counters."""
        put = {
            "Put": {
                "TableName": self._table,
                "Item": serialize(job_to_attributes(job)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        self._transact([(put, TransitionConflict), *self._counters.updates(None, job)], job.id)
        return job

    def save_transition(self, before: Job, after: Job) -> Job:
        """Writes `after`, a transition of `before` (the lifecycle's, with the next version), only if the
        stored job is still exactly `before` (same status and version).

        Raises TransitionConflict when another writer got there first.
        """
        if after.id != before.id or after.version != before.version + 1:
            raise ValueError("a job is written only as a lifecycle transition of the job that was read")
        old = job_to_attributes(before)
        new = job_to_attributes(after)
        expression = Expression()
        assignments = [
            f"{expression.name(attr)} = {expression.value(value)}"
            for attr, value in new.items()
            if attr != "pk" and old.get(attr) != value
        ]
        removals = [expression.name(attr) for attr in old if attr not in new]
        update_expression = "SET " + ", ".join(assignments)
        if removals:
            update_expression += " REMOVE " + ", ".join(removals)
        condition = (
            f"{expression.name('version')} = {expression.value(before.version)} "
            f"AND {expression.name('status')} = {expression.value(before.status.value)}"
        )
        update = {
            "TableName": self._table,
            "Key": job_key(before.id),
            "UpdateExpression": update_expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.serialized_values(),
        }
        counters = self._counters.updates(before, after)
        if not counters:
            try:
                self._client.update_item(**update)
            except ClientError as error:
                if condition_failed(error):
                    raise TransitionConflict(before.id) from error
                raise
        else:
            self._transact([({"Update": update}, TransitionConflict), *counters], before.id)
        return after

    def claim(self, job_id: str, now: datetime, lease_seconds: float) -> Job | None:
        """Takes a short lease on a due job so overlapping sweeps don't poll it twice."""
        now_ms = to_epoch_ms(now)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=job_key(job_id),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression=(
                    "attribute_exists(next_poll_at) AND next_poll_at <= :now "
                    "AND (attribute_not_exists(lease_until) OR lease_until <= :now)"
                ),
                ExpressionAttributeValues=serialize(
                    {":until": to_epoch_ms(now + timedelta(seconds=lease_seconds)), ":now": now_ms}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return job_from_item(response["Attributes"])

    def _transact(self, items: list[TransactItem], job_id: str) -> None:
        for attempt in range(TRANSACTION_CONFLICT_RETRIES):
            try:
                self._client.transact_write_items(TransactItems=[item for item, _ in items])
                return
            except ClientError as error:
                reasons = error.response.get("CancellationReasons", [])
                for (_, error_for), reason in zip(items, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        raise error_for(job_id) from error
                if condition_failed(error):
                    raise TransitionConflict(job_id) from error
                if not _transaction_conflict(error) or attempt == TRANSACTION_CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.01 * 2**attempt)  # back off from a concurrent write to a counter item

    # --- reads --------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        response = self._client.get_item(TableName=self._table, Key=job_key(job_id), ConsistentRead=True)
        item = response.get("Item")
        return job_from_item(item) if item else None

    def get_for_owner(self, job_id: str, owner: str) -> Job:
        """The owner's job; another owner's job is reported exactly like a missing one."""
        job = self.get(job_id)
        if job is None or job.owner != owner:
            raise JobNotFound(job_id)
        return job

    def list_for_owner(self, owner: str, *, status: JobStatus | None, limit: int, cursor: str | None) -> JobPage:
        """The owner's jobs, newest first, from the owner indexes (never a Scan)."""
        if status is None:
            index, partition_attr, partition_value = BY_OWNER_INDEX, "owner", owner
        else:
            index, partition_attr, partition_value = (
                BY_OWNER_STATUS_INDEX,
                "owner_status",
                f"{owner}#{status}",
            )
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": partition_attr},
            "ExpressionAttributeValues": {":p": {"S": partition_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, partition_attr, partition_value, sort_attr="created_key")
        response = self._client.query(**query)
        jobs = [job_from_item(item) for item in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return JobPage(jobs=jobs, next_cursor=encode_cursor(last_key) if last_key else None)

    def find_by_provider_video_id(self, provider_video_id: str) -> Job | None:
        """The job whose current attempt is this provider video (the `by_provider_video` index)."""
        response = self._client.query(
            TableName=self._table,
            IndexName=BY_PROVIDER_VIDEO_INDEX,
            KeyConditionExpression="provider_video_id = :video",
            ExpressionAttributeValues={":video": {"S": provider_video_id}},
        )
        for item in response.get("Items", []):
            job = self.get(item["pk"]["S"].removeprefix(JOB_KEY_PREFIX))
            if job is not None and job.provider_video_id == provider_video_id:
                return job
        return None

    def due_job_ids(self, now: datetime, *, page_size: int, shard: str) -> Iterator[str]:
        """Ids of jobs whose due time has come, the longest-waiting first (FIFO in the submit shard)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_shard = :shard AND next_poll_at <= :now",
            "ExpressionAttributeValues": serialize({":shard": shard, ":now": to_epoch_ms(now)}),
            "Limit": page_size,
        }
        while True:
            response = self._client.query(**query)
            for item in response.get("Items", []):
                yield item["pk"]["S"].removeprefix(JOB_KEY_PREFIX)
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def totals(self, owner: str | None) -> JobTotals:
        """Jobs per status, estimated cost and provider slots in use: one owner's, or everyone's for None."""
        key = owner_stats_key(owner) if owner is not None else ALL_OWNERS_STATS_KEY
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True)
        stored = deserialize(response.get("Item", {}))
        return JobTotals(
            counts={status: max(0, int(stored.get(status.value, 0))) for status in JobStatus},
            estimated_cost_cents=max(0, int(stored.get("cost_cents", 0))),
            in_flight=max(0, int(stored.get("in_flight", 0))),
            in_flight_by_provider={
                provider: max(0, int(stored.get(in_flight_counter(provider), 0))) for provider in PROVIDER_NAMES
            },
        )
