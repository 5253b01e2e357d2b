"""The jobs table: conditional job writes, status counters, owner listings and the due index."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sorajobs.dal.conditions import condition_failed
from sorajobs.dal.cursors import decode_cursor, encode_cursor
from sorajobs.dal.job_items import (
    JOB_KEY_PREFIX,
    POLL_SHARD,
    deserialize,
    job_from_item,
    job_key,
    job_to_attributes,
    serialize,
)
from sorajobs.models.errors import (
    DailySpendLimitReached,
    JobNotFound,
    ProviderSlotsFull,
    TooManyActiveJobs,
    TransitionConflict,
)
from sorajobs.models.job import UNFINISHED_STATUSES, Job, JobStatus
from sorajobs.timeutil import to_epoch_ms

ALL_OWNERS_STATS_KEY = "STATS#all"
BY_OWNER_INDEX = "by_owner"
BY_OWNER_STATUS_INDEX = "by_owner_status"
DUE_INDEX = "due"
BY_PROVIDER_VIDEO_INDEX = "by_provider_video"
# Counter items are shared by every job of an owner, so concurrent transactions can collide.
TRANSACTION_CONFLICT_RETRIES = 8


SPEND_RECORD_DAYS = 2


def owner_stats_key(owner: str) -> str:
    return f"STATS#owner#{owner}"


def daily_spend_key(owner: str, moment: datetime) -> str:
    return f"SPEND#{owner}#{moment.date().isoformat()}"


@dataclass(frozen=True)
class AdmissionLimits:
    """Limits enforced atomically with each job write; None turns one off."""

    max_in_flight: int | None = None
    max_active_per_owner: int | None = None
    daily_spend_cents: int | None = None


@dataclass(frozen=True)
class JobTotals:
    """What the counter items hold for one owner, or for everyone."""

    counts: dict[JobStatus, int]
    estimated_cost_cents: int
    in_flight: int


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


def _footprint(job: Job | None) -> Counter[str]:
    """What one job adds to the counters: its status, whether it is active or holds a provider slot, its cost."""
    if job is None:
        return Counter()
    return Counter(
        {
            job.status.value: 1,
            "active": int(job.status in UNFINISHED_STATUSES),
            "in_flight": int(job.admitted),
            "cost_cents": job.estimated_cost_cents,
        }
    )


def _counter_deltas(before: Job | None, after: Job) -> dict[str, int]:
    deltas = _footprint(after)
    deltas.subtract(_footprint(before))
    return {name: delta for name, delta in deltas.items() if delta}


# A transaction item, and the error to raise when its condition is what cancelled the transaction.
_TransactItem = tuple[dict[str, Any], Callable[[str], Exception]]


class _Expression:
    """Builds placeholder names and values for one DynamoDB expression."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, python_value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = python_value
        return placeholder

    def serialized_values(self) -> dict[str, Any]:
        return serialize(self.values)


def _transaction_conflict(error: ClientError) -> bool:
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons", [])
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


class JobRepository:
    def __init__(self, dynamodb_client: Any, table_name: str, limits: AdmissionLimits | None = None) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._limits = limits or AdmissionLimits()

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
        self._transact([(put, TransitionConflict), *self._counter_updates(None, job)], job.id)
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
        expression = _Expression()
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
        counters = self._counter_updates(before, after)
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

    def _counter_updates(self, before: Job | None, after: Job) -> list[_TransactItem]:
        """Counter changes of a job write, each guarded by the admission limit it could break."""
        deltas = _counter_deltas(before, after)
        if not deltas:
            return []
        limits = self._limits
        owner_condition = None
        if limits.max_active_per_owner is not None and deltas.get("active", 0) > 0:
            owner_condition = ("active", limits.max_active_per_owner - deltas["active"])
        global_condition = None
        if limits.max_in_flight is not None and deltas.get("in_flight", 0) > 0:
            global_condition = ("in_flight", limits.max_in_flight - deltas["in_flight"])
        items: list[_TransactItem] = [
            (self._counter_update(owner_stats_key(after.owner), deltas, owner_condition), _too_many_active),
            (self._counter_update(ALL_OWNERS_STATS_KEY, deltas, global_condition), _slots_full),
        ]
        cost = deltas.get("cost_cents", 0)
        if cost > 0 and limits.daily_spend_cents is not None:
            spend = self._counter_update(
                daily_spend_key(after.owner, after.updated_at),
                {"cost_cents": cost},
                ("cost_cents", limits.daily_spend_cents - cost),
                expires_at=int((after.updated_at + timedelta(days=SPEND_RECORD_DAYS)).timestamp()),
            )
            items.append((spend, _spend_limit_reached))
        return items

    def _counter_update(
        self,
        key: str,
        deltas: dict[str, int],
        at_most: tuple[str, int] | None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """ADD the deltas to a counter item; with `at_most`, only while that counter is at most the bound."""
        expression = _Expression()
        parts = [f"{expression.name(name)} {expression.value(delta)}" for name, delta in deltas.items()]
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "ADD " + ", ".join(parts),
        }
        if expires_at is not None:
            update["UpdateExpression"] += f" SET {expression.name('expiration')} = {expression.value(expires_at)}"
        if at_most is not None:
            counter, bound = at_most
            name = expression.name(counter)
            update["ConditionExpression"] = (
                f"attribute_not_exists({name}) OR {name} <= {expression.value(bound)}"
                if bound >= 0
                else f"{name} <= {expression.value(bound)}"
            )
        update["ExpressionAttributeNames"] = expression.names
        update["ExpressionAttributeValues"] = expression.serialized_values()
        return {"Update": update}

    def _transact(self, items: list[_TransactItem], job_id: str) -> None:
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

    def due_job_ids(self, now: datetime, *, page_size: int, shard: str = POLL_SHARD) -> Iterator[str]:
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
        )


def _too_many_active(job_id: str) -> Exception:
    error = TooManyActiveJobs("You have as many unfinished jobs as allowed; wait for one to finish.")
    error.retry_after = 30
    return error


def _slots_full(job_id: str) -> Exception:
    return ProviderSlotsFull(job_id)


def _spend_limit_reached(job_id: str) -> Exception:
    return DailySpendLimitReached("This job would exceed your daily spending limit; try again tomorrow (UTC).")
