"""Shared parts of the client's tests: the local stack's clocks, and where the client's source lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.backend_clock import ManualClock
from local.emulator import EmulatorConfig
from local.emulator import ManualClock as EmulatorClock
from local.stack import LocalStack

CLIENT_SOURCE = Path(__file__).resolve().parents[2] / "clients" / "python" / "src"


@dataclass
class Clocks:
    """The functions' and the emulators' time, moved together."""

    backend: ManualClock
    emulator: EmulatorClock

    @classmethod
    def at(cls, start: datetime) -> Clocks:
        return cls(ManualClock(start), EmulatorClock(start=start.timestamp()))

    @classmethod
    def now(cls) -> Clocks:
        # Webhook signatures carry the backend's clock; starting at the real time keeps them checkable.
        return cls.at(datetime.now(UTC).replace(microsecond=0))

    def advance(self, seconds: float) -> None:
        self.backend.advance(seconds)
        self.emulator.advance(seconds)


def manual_local_stack(clocks: Clocks, **options: Any) -> LocalStack:
    """A local stack on these clocks, with the sweep and the pollers driven by hand (`on_manual_time`): jobs queue
    for 3 s and render for 20 s of manual time; the provider's webhooks are off, so the sweep carries the jobs."""
    return LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=3, render_seconds=20),
        emulator_clock=clocks.emulator,
        backend_clock=clocks.backend,
        background=False,
        provider_webhooks=False,
        **options,
    )


def on_manual_time(stack: LocalStack, clocks: Clocks) -> dict[str, Any]:
    """A client's `sleep` and `clock` for a stack on manual clocks: a sleep moves time on, then runs the sweep
    and the store step as the schedule and the queue would, so a wait reaches `completed` (or its timeout)
    without any real waiting."""

    def sleep(seconds: float) -> None:
        clocks.advance(seconds)
        stack.scheduler.run_once()
        stack.store_poller.drain()

    def clock() -> float:
        return clocks.backend.now().timestamp()

    return {"sleep": sleep, "clock": clock}


def child_environment(api_url: str, token: str) -> dict[str, str]:
    """The environment of a `sora-jobs` child process: the client's source first, the API and the token."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SORA_JOBS_", "API"))}
    environment.pop("TOKEN", None)
    python_path = [str(CLIENT_SOURCE), environment.get("PYTHONPATH", "")]
    environment.update(
        PYTHONPATH=os.pathsep.join(filter(None, python_path)),
        SORA_JOBS_API_URL=api_url,
        SORA_JOBS_TOKEN=token,
        TERM="xterm-256color",
        COLUMNS="100",
        LINES="30",
    )
    environment.pop("NO_COLOR", None)
    return environment
