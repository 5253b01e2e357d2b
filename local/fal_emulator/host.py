"""What the emulator's HTTP app needs from its server, so that the app depends on this and not on the server
(which builds the app): the settings, the clock, the state, the faults, the signing keys and the webhooks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from local.emulation.clock import Clock
from local.emulation.control_api import ControlledEmulator
from local.emulation.faults import FaultBook
from local.emulation.server import RequestLog
from local.fal_emulator.models import MODELS, Model
from local.fal_emulator.queue import QueuedRequest
from local.fal_emulator.scenarios import Scenario
from local.fal_emulator.signing import KeySet
from local.fal_emulator.state import FalState

# fal retries a webhook that fails "10 times in the span of 2 hours"; the emulator keeps the count, not the span.
DEFAULT_WEBHOOK_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 240.0, 480.0)


@dataclass
class FalEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    # The FAL_KEY clients send as "Authorization: Key <key>"; None accepts any key of the form "<id>:<secret>".
    api_key: str | None = None
    # Runners: this many requests are IN_PROGRESS at once, the rest wait IN_QUEUE in submission order.
    concurrency: int = 2
    queue_seconds: float = 1.0
    processing_seconds: float = 30.0
    models: dict[str, Model] = field(default_factory=lambda: dict(MODELS))
    seed: int = 0
    # Request ids drawn from this seed (a seeded test run names its requests the same every time); None: random.
    id_seed: int | None = None
    default_scenario: Scenario = field(default_factory=Scenario)
    # How long a generated file stays on the emulator's CDN after completion; None: kept. A request's
    # X-Fal-Object-Lifecycle-Preference header and a scenario's file_expires_after_seconds override it.
    file_expires_after_seconds: float | None = None
    # What an expired file answers (CDNs answer 404 or 403).
    expired_file_status: int = 404
    # "fal keeps the result for 1 hour after the request completes" (the queue's result operation); None: forever.
    result_retention_seconds: float | None = 3600.0
    # The user id fal sends in X-Fal-Webhook-User-Id and signs.
    user_id: str = "emulator-user"
    webhook_retry_delays: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_DELAYS
    # Sign with the emulator's clock instead of the wall clock: for virtual-time runs whose receiver checks
    # the timestamp against a virtual clock of its own.
    webhook_timestamps_from_clock: bool = False

    def __post_init__(self) -> None:
        if self.expired_file_status not in (403, 404):
            raise ValueError(f"expired_file_status must be 403 or 404, got {self.expired_file_status!r}")


class FalEmulatorHost(ControlledEmulator, Protocol):
    """The server as its HTTP app sees it (`FalEmulatorServer` is the one implementation)."""

    config: FalEmulatorConfig
    clock: Clock
    keys: KeySet
    _state: FalState
    _faults: FaultBook
    _requests: RequestLog

    @property
    def stopping(self) -> threading.Event: ...

    @property
    def root_url(self) -> str: ...

    def output(self, record: QueuedRequest) -> dict[str, Any]: ...

    def announce(self) -> None: ...

    # The queue's own /_emulator controls (the shared ones are ControlledEmulator's).
    def request(self, request_id: str) -> dict[str, Any]: ...

    def set_concurrency(self, concurrency: int) -> None: ...

    def webhook_log(self) -> list[dict[str, Any]]: ...
