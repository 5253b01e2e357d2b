from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from runwayml import RunwayML

from local.runway_emulator import EmulatorServer, ManualClock
from tests.runway_emulator.support import API_KEY, PENDING_SECONDS, RUNNING_SECONDS, START, VERSION, runway_config


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(runway_config(), clock=clock) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[RunwayML]:
    with RunwayML(api_key=API_KEY, base_url=server.base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    """A plain HTTP client on the emulator's root URL, sending the SDK's headers."""
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": VERSION}
    with httpx.Client(base_url=server.root_url, headers=headers) as raw:
        yield raw


@pytest.fixture
def finish(clock: ManualClock) -> Callable[[], None]:
    """Advance the clock past pending and running of the tasks created so far."""

    def advance() -> None:
        clock.advance(PENDING_SECONDS + RUNNING_SECONDS)

    return advance
