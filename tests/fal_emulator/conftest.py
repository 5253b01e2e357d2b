from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer, ManualClock

FAL_KEY = "emulator-key-id:emulator-key-secret"
QUEUE_SECONDS = 1.0
PROCESSING_SECONDS = 10.0
CONCURRENCY = 2
VEO3 = "fal-ai/veo3"
KLING_T2V = "fal-ai/kling-video/v2.1/master/text-to-video"
HAILUO_I2V = "fal-ai/minimax/hailuo-02/standard/image-to-video"


def config(**overrides: Any) -> FalEmulatorConfig:
    settings: dict[str, Any] = {
        "api_key": FAL_KEY,
        "concurrency": CONCURRENCY,
        "queue_seconds": QUEUE_SECONDS,
        "processing_seconds": PROCESSING_SECONDS,
        "webhook_retry_delays": (0.05, 0.05),
        **overrides,
    }
    return FalEmulatorConfig(**settings)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[FalEmulatorServer]:
    with FalEmulatorServer(config(), clock=clock) as running:
        yield running


@pytest.fixture
def http(server: FalEmulatorServer) -> Iterator[httpx.Client]:
    """A client of the queue, authenticated as fal's clients are (``Authorization: Key <FAL_KEY>``)."""
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Key {FAL_KEY}"}) as client:
        yield client


def submit(http: httpx.Client, endpoint_id: str = VEO3, **arguments: Any) -> dict[str, Any]:
    """Submit ``arguments`` (a prompt by default) and return the submit answer, checking it was accepted."""
    response = http.post(f"/{endpoint_id}", json=arguments or {"prompt": "a cat on a skateboard"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
