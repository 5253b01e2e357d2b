"""What the emulator's HTTP app needs from its server, so that the app depends on this and not on the server
(which builds the app): the settings, the clock, the state, the faults and the webhook machinery."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from local.emulation.clock import Clock
from local.emulation.control_api import ControlledEmulator
from local.emulation.faults import FaultBook
from local.emulation.server import RequestLog
from local.emulation.webhooks import WebhookScheduler
from local.emulator.scenarios import Scenario
from local.emulator.state import EmulatorState


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None
    queue_seconds: float = 2.0
    render_seconds: float = 10.0
    models: list[str] = field(default_factory=lambda: ["sora-2", "sora-2-pro"])
    seed: int = 0
    # Video ids drawn from this seed (a seeded test run names its videos the same every time); None: random ids.
    id_seed: int | None = None
    poll_after_ms: int = 2000
    expires_after_seconds: int = 3600
    max_list_limit: int = 100
    default_scenario: Scenario = field(default_factory=Scenario)
    # Provider webhooks are sent only when both are set; the secret is a Standard Webhooks "whsec_<base64 key>".
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retry_delays: tuple[float, ...] = (0.5, 2.0, 5.0)
    # Sign with the emulator's clock instead of the wall clock: for virtual-time runs whose receiver checks
    # the timestamp against a virtual clock of its own.
    webhook_timestamps_from_clock: bool = False


class EmulatorHost(ControlledEmulator, Protocol):
    """The server as its HTTP app sees it (`EmulatorServer` is the one implementation)."""

    config: EmulatorConfig
    clock: Clock
    _state: EmulatorState
    _faults: FaultBook
    _requests: RequestLog
    _webhook_scheduler: WebhookScheduler

    @property
    def stopping(self) -> threading.Event: ...

    def configure_webhooks(self, url: str | None, secret: str | None) -> None: ...

    # The Videos API's own /_emulator controls (the shared ones are ControlledEmulator's).
    def video(self, video_id: str) -> dict[str, Any]: ...

    def webhook_log(self) -> list[dict[str, Any]]: ...
