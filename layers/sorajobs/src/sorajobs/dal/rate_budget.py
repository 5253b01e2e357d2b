"""The providers' request budgets, shared by every function: token buckets kept in the jobs table.

One bucket per provider and kind of call ("create", "retrieve"), each with a limit in requests per minute. A bucket
holds at most a tenth of a minute's requests and refills at the rest of the limit spread over the
minute, so no 60-second window ever sees more than the limit (from a limit of 2 upwards). A 429 from the
provider pauses its bucket for everyone until its Retry-After has passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from sorajobs.clock import Clock
from sorajobs.dal.conditions import condition_failed
from sorajobs.dal.job_items import deserialize, serialize
from sorajobs.timeutil import from_epoch_ms, to_epoch_ms

CallKind = Literal["create", "retrieve"]
# A bucket's name: "create" and "retrieve" for the OpenAI-compatible gateway (as before providers could be
# chosen), "fal#create" and so on for the others.
Bucket = str
CONFLICT_RETRIES = 10


def budget_bucket(provider: str, kind: CallKind) -> Bucket:
    return kind if provider == "openai" else f"{provider}#{kind}"


@dataclass(frozen=True)
class Grant:
    """How many requests may go now, and when to come back if that is fewer than asked for."""

    granted: int
    retry_after_seconds: float = 0.0


@dataclass(frozen=True)
class _BucketShape:
    capacity: float
    refill_per_second: float

    @classmethod
    def for_limit(cls, requests_per_minute: int) -> _BucketShape:
        burst = max(1, requests_per_minute // 10)
        refill = max(requests_per_minute - burst, 1) / 60
        return cls(capacity=float(burst), refill_per_second=refill)


class RateBudget:
    def __init__(self, dynamodb_client: Any, table_name: str, clock: Clock, limits: dict[str, int]) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._clock = clock
        # A limit of 0 means no budget for that kind of call.
        self._shapes = {bucket: _BucketShape.for_limit(rpm) for bucket, rpm in limits.items() if rpm > 0}

    def limited(self, bucket: Bucket) -> bool:
        return bucket in self._shapes

    def take(self, bucket: Bucket, count: int = 1) -> Grant:
        """Takes up to `count` requests from the bucket (all-or-some, never more than there is)."""
        shape = self._shapes.get(bucket)
        if shape is None:
            return Grant(granted=count)
        for _ in range(CONFLICT_RETRIES):
            now = self._clock.now()
            state = self._read(bucket)
            paused_for = (state.paused_until - now).total_seconds() if state.paused_until else 0.0
            if paused_for > 0:
                return Grant(granted=0, retry_after_seconds=paused_for)
            tokens = state.tokens_at(now, shape)
            granted = min(count, math.floor(tokens))
            if granted == 0:
                return Grant(granted=0, retry_after_seconds=(1 - tokens) / shape.refill_per_second)
            if self._write(bucket, state, tokens - granted, now):
                return Grant(granted=granted)
        return Grant(granted=0, retry_after_seconds=1.0)  # heavily contended: come back in a moment

    def pause(self, bucket: Bucket, seconds: float) -> None:
        """Stops every function from drawing on the bucket until `seconds` from now (a provider 429)."""
        if bucket not in self._shapes:
            return
        until = to_epoch_ms(self._clock.now() + timedelta(seconds=seconds))
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": _key(bucket)}},
                UpdateExpression="SET paused_until = :until",
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until < :until",
                ExpressionAttributeValues=serialize({":until": until}),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise  # a longer pause already stands otherwise

    def _read(self, bucket: str) -> _State:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": _key(bucket)}}, ConsistentRead=True)
        return _State.from_item(deserialize(response.get("Item", {})))

    def _write(self, bucket: str, state: _State, tokens: float, now: datetime) -> bool:
        """Stores the new level only if nobody else drew on the bucket since it was read."""
        # Every write bumps `revision`, so two callers that read the same state never both spend it.
        condition = "attribute_not_exists(revision)" if state.revision is None else "revision = :seen"
        values: dict[str, Any] = {
            ":tokens": Decimal(str(round(tokens, 6))),
            ":now": to_epoch_ms(now),
            ":next": (state.revision or 0) + 1,
        }
        if state.revision is not None:
            values[":seen"] = state.revision
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": _key(bucket)}},
                UpdateExpression="SET tokens = :tokens, refilled_at = :now, revision = :next",
                ConditionExpression=condition,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


@dataclass(frozen=True)
class _State:
    tokens: float | None
    refilled_at_ms: int | None
    paused_until: datetime | None
    revision: int | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> _State:
        paused = item.get("paused_until")
        return cls(
            tokens=float(item["tokens"]) if "tokens" in item else None,
            refilled_at_ms=int(item["refilled_at"]) if "refilled_at" in item else None,
            paused_until=from_epoch_ms(int(paused)) if paused is not None else None,
            revision=int(item["revision"]) if "revision" in item else None,
        )

    def tokens_at(self, now: datetime, shape: _BucketShape) -> float:
        if self.tokens is None or self.refilled_at_ms is None:
            return shape.capacity
        elapsed = max(0.0, (to_epoch_ms(now) - self.refilled_at_ms) / 1000)
        return min(shape.capacity, self.tokens + elapsed * shape.refill_per_second)


def _key(bucket: str) -> str:
    return f"RATE#{bucket}"
