"""EmulatorServer: a real HTTP server speaking the OpenAI Videos protocol, run in a background thread."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from local.emulation import media
from local.emulation.clock import Clock, SystemClock
from local.emulation.scenarios import ScenarioBook
from local.emulation.server import ScriptedServer
from local.emulation.standard_webhooks import standard_webhooks_target
from local.emulation.webhooks import WebhookScheduler, WebhookSender, WebhookTarget
from local.emulator.app import EmulatorApp
from local.emulator.faults import OPERATIONS
from local.emulator.host import EmulatorConfig
from local.emulator.scenarios import Scenario
from local.emulator.state import EmulatorState, lifecycle, terminal_at, video_object
from local.emulator.webhooks import WebhookEvent

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("local.emulator")


class EmulatorServer(ScriptedServer[Scenario]):
    """The local OpenAI Videos API. Point the SDK at ``base_url``; steer it with scenarios and faults."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        super().__init__(
            self.config, name="openai-videos-emulator", logger=log, clock=clock or SystemClock(), operations=OPERATIONS
        )
        self._state = EmulatorState(self.config.default_scenario, self.config.id_seed)
        self._webhook_target = standard_webhooks_target(self.config.webhook_url, self.config.webhook_secret)
        timestamp = self.clock.now if self.config.webhook_timestamps_from_clock else time.time
        self._webhook_sender = WebhookSender(self.config.webhook_retry_delays, timestamp=timestamp, logger=log)
        self._webhook_scheduler = WebhookScheduler(self.clock, self._emit_due_webhooks, logger=log)

    # -- lifecycle --------------------------------------------------------------------------------------

    def wsgi_app(self) -> WSGIApplication:
        return EmulatorApp(self)

    def _on_start(self) -> None:
        self._webhook_sender.start(f"openai-videos-emulator-webhooks:{self.port}")
        self._webhook_scheduler.start(f"openai-videos-emulator-webhook-scheduler:{self.port}")

    def _on_stop(self) -> None:
        self._webhook_scheduler.stop()
        self._webhook_sender.stop()

    # -- controls ---------------------------------------------------------------------------------------

    @property
    def scenarios(self) -> ScenarioBook[Scenario]:
        return self._state.scenarios

    def reset(self) -> None:
        """Forget videos, scenarios, rules, faults, counters, the request log and the webhook log
        (webhooks not yet sent are dropped; the webhook endpoint stays)."""
        super().reset()
        with self._state.lock:
            self._state = EmulatorState(self.config.default_scenario, self.config.id_seed)
        self._webhook_sender.clear()

    def configure_webhooks(self, url: str | None, secret: str | None) -> None:
        """Send webhooks to ``url`` signed with ``secret`` ("whsec_<base64 key>"); either None turns them off.
        Videos that turned terminal before the switch keep the previous setting. ValueError if invalid."""
        target = standard_webhooks_target(url, secret)
        with self._state.lock:
            due, _ = self._take_due_webhooks()
            self._webhook_target = target
        self._submit_webhooks(due)

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until no webhook is queued, waiting for a retry or being sent; False if ``timeout`` ran out.
        With a ManualClock, the events a clock move made due are queued before the move returns."""
        return self._webhook_sender.flush(timeout)

    # -- webhooks ---------------------------------------------------------------------------------------

    def _emit_due_webhooks(self) -> float | None:
        """Queue the events of videos that turned terminal; return the next terminal moment still ahead."""
        with self._state.lock:
            due, next_due = self._take_due_webhooks()
        self._submit_webhooks(due)
        return next_due

    def _take_due_webhooks(self) -> tuple[list[tuple[WebhookEvent, WebhookTarget]], float | None]:
        """Marks videos that turned terminal as handled (caller holds the state lock). Their events are
        returned when webhooks are on and the video is not overridden to ``expired``."""
        now = self.clock.now()
        target = self._webhook_target
        turned: list[tuple[int, int, str, str]] = []  # (moment, seq, event type, video id)
        next_due: float | None = None
        for record in self._state.videos.values():
            if record.terminal_event_handled:
                continue
            state = lifecycle(record, now, self.config.expires_after_seconds)
            if not state.terminal:
                moment = terminal_at(record)
                if moment is not None and (next_due is None or moment < next_due):
                    next_due = moment
                continue
            record.terminal_event_handled = True
            if state.completed_at is not None and record.scenario.status_override != "expired":
                turned.append((state.completed_at, record.seq, "video." + state.status, record.id))
        if target is None:
            return [], next_due
        events = [(WebhookEvent.new(kind, video_id, moment), target) for moment, _, kind, video_id in sorted(turned)]
        return events, next_due

    def _submit_webhooks(self, due: list[tuple[WebhookEvent, WebhookTarget]]) -> None:
        for event, target in due:
            self._webhook_sender.submit(event, target)

    # -- inspection -------------------------------------------------------------------------------------

    @property
    def created_count(self) -> int:
        """Successful ``POST /v1/videos`` (remixes are counted in ``remix_count``)."""
        with self._state.lock:
            return self._state.created_count

    @property
    def remix_count(self) -> int:
        with self._state.lock:
            return self._state.remix_count

    def video_ids(self) -> list[str]:
        """Every video created so far (deleted ones included), oldest first."""
        with self._state.lock:
            return [record.id for record in sorted(self._state.videos.values(), key=lambda record: record.seq)]

    def video(self, video_id: str) -> dict[str, Any]:
        """The public Video object plus internal state (deleted videos included). KeyError if unknown."""
        now = self.clock.now()
        with self._state.lock:
            record = self._state.videos[video_id]
            body = video_object(record, now, self.config.expires_after_seconds)
            video_bytes = record.scenario.video_bytes
            internal = {
                "deleted": record.deleted_at is not None,
                "deleted_at": record.deleted_at,
                "scenario": record.scenario.to_dict(),
                "queue_seconds": record.queue_seconds,
                "render_seconds": record.render_seconds,
                "input_reference": record.input_reference,
                "downloads": dict(record.downloads),
            }
        return {**body, **internal, **media.video_content(video_bytes, video_id)}

    def webhook_log(self) -> list[dict[str, Any]]:
        """Every webhook since the last reset, oldest first: ``{event_id, type, video_id,
        attempts: [{status, at}], delivered}``; status 0 means no response, ``at`` is wall-clock unix seconds."""
        return self._webhook_sender.log()

    def stats(self) -> dict[str, Any]:
        with self._state.lock:
            state = self._state
            return {
                "created_count": state.created_count,
                "remix_count": state.remix_count,
                "videos": sum(1 for r in state.videos.values() if r.deleted_at is None),
                "deleted": sum(1 for r in state.videos.values() if r.deleted_at is not None),
                **self.control_stats(),
            }
