"""The test emulator's settings, shared by the fixtures and the tests that build their own server."""

from __future__ import annotations

from typing import Any

from local.runway_emulator import EmulatorConfig

API_KEY = "key_test"
VERSION = "2024-11-06"
START = 1_800_000_000.0
PENDING_SECONDS = 2.0
RUNNING_SECONDS = 10.0
URL_LIFETIME_SECONDS = 60.0
PNG_DATA_URI = "data:image/png;base64," + (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def runway_config(**changes: Any) -> EmulatorConfig:
    """The tests' timing: 2 s PENDING, 10 s RUNNING, output URLs good for 60 s."""
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "pending_seconds": PENDING_SECONDS,
        "running_seconds": RUNNING_SECONDS,
        "output_url_lifetime_seconds": URL_LIFETIME_SECONDS,
        **changes,
    }
    return EmulatorConfig(**settings)
