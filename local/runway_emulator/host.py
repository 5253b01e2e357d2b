"""The emulator's settings, and what its HTTP app needs from its server (so the app depends on this, not on the
server that builds it)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from local.emulation.control_api import ControlledEmulator
from local.emulation.faults import FaultBook
from local.emulation.server import RequestLog
from local.runway_emulator.models import all_model_names
from local.runway_emulator.scenarios import Scenario
from local.runway_emulator.signed_urls import UrlSigner
from local.runway_emulator.state import RunwayState


def _default_tier_models() -> dict[str, dict[str, int | None]]:
    return {model: {"maxConcurrentGenerations": 2, "maxDailyGenerations": 50} for model in all_model_names()}


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    # The bearer key to require; None accepts any non-empty key.
    api_key: str | None = None
    # Accepted X-Runway-Version values (the SDK sends 2024-11-06).
    api_versions: tuple[str, ...] = ("2024-11-06",)
    pending_seconds: float = 2.0
    throttled_seconds: float = 0.0
    running_seconds: float = 20.0
    # Runway's output URLs "expire within 24-48 hours"; tests use a short lifetime.
    output_url_lifetime_seconds: float = 86_400.0
    # How long a cancelled task still answers GET with CANCELLED before it is gone (404) like a deleted one.
    cancelled_visible_seconds: float = 0.0
    seed: int = 0
    # Task ids drawn from this seed (a seeded run names its tasks the same every time); None: random uuid4s.
    id_seed: int | None = None
    default_scenario: Scenario = field(default_factory=Scenario)
    # GET /v1/organization: the starting balance, and the tier's limits (reported, not enforced).
    credit_balance: int = 100_000
    max_monthly_credit_spend: int = 100_000
    tier_models: dict[str, dict[str, int | None]] = field(default_factory=_default_tier_models)


class RunwayHost(ControlledEmulator, Protocol):
    """The server as its HTTP app sees it (`EmulatorServer` is the one implementation)."""

    config: EmulatorConfig
    _state: RunwayState
    _faults: FaultBook
    _requests: RequestLog
    _signer: UrlSigner

    @property
    def stopping(self) -> threading.Event: ...

    def task(self, task_id: str) -> dict[str, Any]: ...
