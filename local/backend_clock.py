"""The backend's manual clock for tests and benchmarks, kept out of the shipped layer (sorajobs.clock).

It is a ``sorajobs.clock.Clock`` (datetimes); the provider emulator's own clock is ``local.emulator.ManualClock``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """A clock that moves only when told to (tests, benchmarks, the virtual-time sweep)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now
