"""The counter items every job write keeps up to date in the same transaction: jobs per status, active jobs
and provider slots per owner and in all, estimated cost, and each owner's daily spend. Each is guarded by the
admission limit it could break, so a write that would break one is refused whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sorajobs.dal.expressions import Expression
from sorajobs.models.errors import DailySpendLimitReached, ProviderSlotsFull, TooManyActiveJobs
from sorajobs.models.job import UNFINISHED_STATUSES, Job, JobStatus

ALL_OWNERS_STATS_KEY = "STATS#all"
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
    # Slots per provider (fal runs a few at once and queues the rest; Runway's tier sets its concurrency).
    max_in_flight_by_provider: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class JobTotals:
    """What the counter items hold for one owner, or for everyone."""

    counts: dict[JobStatus, int]
    estimated_cost_cents: int
    in_flight: int
    in_flight_by_provider: dict[str, int] = field(default_factory=dict)


# A transaction item, and the error to raise when its condition is what cancelled the transaction.
TransactItem = tuple[dict[str, Any], Callable[[str], Exception]]


def _footprint(job: Job | None) -> Counter[str]:
    """What one job adds to the counters: its status, whether it is active or holds a provider slot, its cost."""
    if job is None:
        return Counter()
    return Counter(
        {
            job.status.value: 1,
            "active": int(job.status in UNFINISHED_STATUSES),
            "in_flight": int(job.admitted),
            in_flight_counter(job.provider): int(job.admitted),
            "cost_cents": job.estimated_cost_cents,
        }
    )


def in_flight_counter(provider: str) -> str:
    return f"in_flight_{provider}"


def _counter_deltas(before: Job | None, after: Job) -> dict[str, int]:
    deltas = _footprint(after)
    deltas.subtract(_footprint(before))
    return {name: delta for name, delta in deltas.items() if delta}


class CounterUpdates:
    """The counter items' part of a job write's transaction."""

    def __init__(self, table_name: str, limits: AdmissionLimits) -> None:
        self._table = table_name
        self._limits = limits

    def updates(self, before: Job | None, after: Job) -> list[TransactItem]:
        """Counter changes of a job write, each guarded by the admission limit it could break."""
        deltas = _counter_deltas(before, after)
        if not deltas:
            return []
        limits = self._limits
        owner_condition = None
        if limits.max_active_per_owner is not None and deltas.get("active", 0) > 0:
            owner_condition = ("active", limits.max_active_per_owner - deltas["active"])
        global_conditions = []
        if limits.max_in_flight is not None and deltas.get("in_flight", 0) > 0:
            global_conditions.append(("in_flight", limits.max_in_flight - deltas["in_flight"]))
        provider_cap = limits.max_in_flight_by_provider.get(after.provider)
        provider_slots = in_flight_counter(after.provider)
        if provider_cap is not None and deltas.get(provider_slots, 0) > 0:
            global_conditions.append((provider_slots, provider_cap - deltas[provider_slots]))
        items: list[TransactItem] = [
            (self._counter_update(owner_stats_key(after.owner), deltas, owner_condition), _too_many_active),
            (self._counter_update(ALL_OWNERS_STATS_KEY, deltas, *global_conditions), _slots_full),
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
        *at_most: tuple[str, int] | None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """ADD the deltas to a counter item; with `at_most`, only while each named counter is at most its bound."""
        expression = Expression()
        parts = [f"{expression.name(name)} {expression.value(delta)}" for name, delta in deltas.items()]
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "ADD " + ", ".join(parts),
        }
        if expires_at is not None:
            update["UpdateExpression"] += f" SET {expression.name('expiration')} = {expression.value(expires_at)}"
        conditions = []
        for counter, bound in filter(None, at_most):
            name = expression.name(counter)
            conditions.append(
                f"(attribute_not_exists({name}) OR {name} <= {expression.value(bound)})"
                if bound >= 0
                else f"{name} <= {expression.value(bound)}"
            )
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        update["ExpressionAttributeNames"] = expression.names
        update["ExpressionAttributeValues"] = expression.serialized_values()
        return {"Update": update}


def _too_many_active(job_id: str) -> Exception:
    error = TooManyActiveJobs("You have as many unfinished jobs as allowed; wait for one to finish.")
    error.retry_after = 30
    return error


def _slots_full(job_id: str) -> Exception:
    return ProviderSlotsFull(job_id)


def _spend_limit_reached(job_id: str) -> Exception:
    return DailySpendLimitReached("This job would exceed your daily spending limit; try again tomorrow (UTC).")
