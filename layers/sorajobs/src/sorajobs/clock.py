"""Time and identity sources, injected so tests use fixed values instead of sleeping."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def new_job_id() -> str:
    return f"job_{secrets.token_hex(12)}"
