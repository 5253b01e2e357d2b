"""Explicit mapping between the domain Job and its DynamoDB item."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from sorajobs.models.job import Job, JobStatus
from sorajobs.timeutil import from_epoch_ms, to_epoch_ms

JOB_KEY_PREFIX = "JOB#"
# The sparse `due` index has two partitions per provider: pending jobs waiting to be submitted (FIFO by their
# due time) and submitted jobs waiting for their next poll. The OpenAI-compatible gateway's keep the names they
# had before providers could be chosen; the others' are suffixed, so the sweep reads each provider's on its own
# budget.
SUBMIT_SHARD = "submit"
POLL_SHARD = "poll"


def due_shard(kind: str, provider: str) -> str:
    return kind if provider == "openai" else f"{kind}#{provider}"


# Stored as epoch milliseconds (numbers) because the sweep compares them in a key condition.
_EPOCH_FIELDS = ("next_poll_at", "lease_until")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": JOB_KEY_PREFIX + job_id}}


def stored_time(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so they also sort correctly as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def created_key(job: Job) -> str:
    return f"{stored_time(job.created_at)}#{job.id}"


def job_to_attributes(job: Job) -> dict[str, Any]:
    """The job as plain item attributes (Python values); absent values are left out."""
    data: dict[str, Any] = json.loads(job.model_dump_json(exclude_none=True, exclude={*_EPOCH_FIELDS}))
    for name in (
        "created_at",
        "updated_at",
        "attempt_started_at",
        "completed_at",
        "last_progress_at",
        "last_refreshed_at",
        "rendering_since",
        "provider_started_at",
        "store_requested_at",
        "create_started_at",
        "last_event_at",
    ):
        value = getattr(job, name)
        if value is not None:
            data[name] = stored_time(value)
    for record, source in zip(data.get("history", []), job.history, strict=True):
        record["started_at"] = stored_time(source.started_at)
        record["ended_at"] = stored_time(source.ended_at)
    if not data.get("history"):
        data.pop("history", None)
    if not data.get("metadata"):
        data.pop("metadata", None)
    for name in _EPOCH_FIELDS:
        value = getattr(job, name)
        if value is not None:
            data[name] = to_epoch_ms(value)
    data["pk"] = JOB_KEY_PREFIX + job.id
    data["created_key"] = created_key(job)
    data["owner_status"] = f"{job.owner}#{job.status.value}"
    if job.next_poll_at is not None:
        data["due_shard"] = due_shard(SUBMIT_SHARD if job.status is JobStatus.PENDING else POLL_SHARD, job.provider)
    return data


def serialize(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in attributes.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def job_from_item(item: dict[str, Any]) -> Job:
    data = deserialize(item)
    for name in _EPOCH_FIELDS:
        if name in data:
            data[name] = from_epoch_ms(data[name])
    for name in ("pk", "created_key", "owner_status", "due_shard"):
        data.pop(name, None)
    return Job.model_validate(data)
