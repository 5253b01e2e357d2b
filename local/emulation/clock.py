"""Time sources for the emulators: real time by default, a manual clock for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

ClockListener = Callable[[float], None]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Current time as float unix seconds."""
        ...


class SystemClock:
    """Real wall-clock time."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to, so lifecycle tests never sleep.

    Listeners are called with the new time after every move, on the thread that moved the clock.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[ClockListener] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now += float(seconds)
            now = self._now
        self._announce(now)
        return now

    def set(self, now: float) -> None:
        with self._lock:
            if now < self._now:
                raise ValueError("a ManualClock only moves forward")
            self._now = float(now)
        self._announce(float(now))

    def add_listener(self, listener: ClockListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: ClockListener) -> None:
        """Forget a listener (no error if it was never added)."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _announce(self, now: float) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(now)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now()!r})"
