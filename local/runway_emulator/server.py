"""EmulatorServer: a real HTTP server speaking Runway's task API, run in a background thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from local.emulation import media
from local.emulation.clock import Clock, SystemClock
from local.emulation.scenarios import ScenarioBook
from local.emulation.server import ScriptedServer
from local.runway_emulator.app import RunwayApp
from local.runway_emulator.faults import OPERATIONS
from local.runway_emulator.host import EmulatorConfig
from local.runway_emulator.scenarios import Scenario
from local.runway_emulator.signed_urls import UrlSigner
from local.runway_emulator.state import RunwayState, charged_credits, lifecycle, task_object

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("local.runway_emulator")


class EmulatorServer(ScriptedServer[Scenario]):
    """The local Runway API. Point the SDK at ``base_url``; steer it with scenarios and faults."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        super().__init__(
            self.config, name="runway-emulator", logger=log, clock=clock or SystemClock(), operations=OPERATIONS
        )
        self._state = RunwayState(self.config.default_scenario, self.config.id_seed)
        self._signer = UrlSigner()

    def wsgi_app(self) -> WSGIApplication:
        return RunwayApp(self)

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``: the root, since the SDK's paths start with ``/v1``."""
        return self.root_url

    # -- controls ---------------------------------------------------------------------------------------

    @property
    def scenarios(self) -> ScenarioBook[Scenario]:
        return self._state.scenarios

    def reset(self) -> None:
        """Forget tasks, scenarios, rules, faults, counters and the request log."""
        super().reset()
        with self._state.lock:
            self._state = RunwayState(self.config.default_scenario, self.config.id_seed)

    # -- inspection -------------------------------------------------------------------------------------

    @property
    def created_count(self) -> int:
        """Successful creates (``POST /v1/text_to_video`` and ``/v1/image_to_video`` that returned a task id)."""
        with self._state.lock:
            return self._state.created_count

    def task_ids(self) -> list[str]:
        """Every task created so far (cancelled and deleted ones included), oldest first."""
        with self._state.lock:
            return [record.id for record in sorted(self._state.tasks.values(), key=lambda record: record.seq)]

    def task(self, task_id: str) -> dict[str, Any]:
        """The task as GET would show it (without output URLs) plus internal state. KeyError if unknown."""
        now = self.clock.now()
        with self._state.lock:
            record = self._state.tasks[task_id]
            state = lifecycle(record, now)
            body = task_object(record, state, [])
            body.pop("output", None)
            video_bytes = record.scenario.video_bytes
            internal = {
                "endpoint": record.endpoint,
                "model": record.model,
                "params": dict(record.params),
                "scenario": record.scenario.to_dict(),
                "pending_seconds": record.pending_seconds,
                "throttled_seconds": record.throttled_seconds,
                "running_seconds": record.running_seconds,
                "estimated_credits": record.estimated_credits,
                "charged_credits": charged_credits(record, state),
                # When it ended, on the emulator's clock (None while active): what a detection delay is measured from.
                "finished_at": state.finished_at,
                "cancelled": record.cancelled_at is not None,
                "cancelled_from": record.cancelled_from,
                "deleted": record.deleted_at is not None,
                "downloads": record.downloads,
            }
        return {**body, **internal, **media.video_content(video_bytes, task_id)}

    def stats(self) -> dict[str, Any]:
        now = self.clock.now()
        with self._state.lock:
            state = self._state
            records = list(state.tasks.values())
            return {
                "created_count": state.created_count,
                "tasks": sum(1 for r in records if r.deleted_at is None and r.cancelled_at is None),
                "cancelled": sum(1 for r in records if r.cancelled_at is not None),
                "deleted": sum(1 for r in records if r.deleted_at is not None),
                "credits_spent": state.credits_spent(now),
                **self.control_stats(),
            }
