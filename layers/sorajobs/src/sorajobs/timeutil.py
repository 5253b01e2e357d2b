"""Conversions between datetimes and the forms stored in DynamoDB and shown in JSON."""

from __future__ import annotations

from datetime import UTC, datetime


def to_iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)
