from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from openai import OpenAI

from local.emulator import EmulatorConfig, EmulatorServer, ManualClock

API_KEY = "sk-test"
QUEUE_SECONDS = 2.0
RENDER_SECONDS = 10.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(api_key=API_KEY, queue_seconds=QUEUE_SECONDS, render_seconds=RENDER_SECONDS)
    with EmulatorServer(config, clock=clock) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    """A plain HTTP client on the emulator's root URL, authenticated like the SDK."""
    with httpx.Client(base_url=server.root_url, headers={"Authorization": f"Bearer {API_KEY}"}) as raw:
        yield raw


@pytest.fixture
def finish(clock: ManualClock) -> Callable[[], None]:
    """Advance the clock past queueing and rendering of videos created so far."""

    def advance() -> None:
        clock.advance(QUEUE_SECONDS + RENDER_SECONDS)

    return advance
