"""FalEmulatorServer: a real HTTP server speaking fal's queue protocol, run in a background thread."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from local.emulation import media
from local.emulation.clock import Clock, SystemClock
from local.emulation.scenarios import ScenarioBook
from local.emulation.server import ScriptedServer
from local.emulation.webhooks import WebhookScheduler, WebhookSender, WebhookTarget
from local.fal_emulator.app import FILES_PREFIX, FalApp
from local.fal_emulator.faults import OPERATIONS
from local.fal_emulator.host import FalEmulatorConfig
from local.fal_emulator.queue import QueuedRequest
from local.fal_emulator.scenarios import Scenario
from local.fal_emulator.signing import JWKS_PATH, KeySet
from local.fal_emulator.state import FalState, OutputFile
from local.fal_emulator.webhooks import FalSigner, FalWebhook

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("local.fal_emulator")


class FalEmulatorServer(ScriptedServer[Scenario]):
    """The local fal queue. Point the backend's fal adapter at ``base_url``; steer it with scenarios and faults."""

    def __init__(self, config: FalEmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or FalEmulatorConfig()
        super().__init__(
            self.config, name="fal-emulator", logger=log, clock=clock or SystemClock(), operations=OPERATIONS
        )
        self.keys = KeySet(self.config.seed)
        self._state = self._new_state()
        timestamp = self.clock.now if self.config.webhook_timestamps_from_clock else time.time
        self._webhook_sender = WebhookSender(self.config.webhook_retry_delays, timestamp=timestamp, logger=log)
        self._webhook_scheduler = WebhookScheduler(self.clock, self._emit_due_webhooks, logger=log)

    def _new_state(self) -> FalState:
        return FalState(self.config.default_scenario, self.config.concurrency, self.config.id_seed)

    # -- lifecycle --------------------------------------------------------------------------------------

    def wsgi_app(self) -> WSGIApplication:
        return FalApp(self)

    def _on_start(self) -> None:
        self._webhook_sender.start(f"fal-emulator-webhooks:{self.port}")
        self._webhook_scheduler.start(f"fal-emulator-webhook-scheduler:{self.port}")

    def _on_stop(self) -> None:
        self._webhook_scheduler.stop()
        self._webhook_sender.stop()

    @property
    def base_url(self) -> str:
        """The queue's base URL (what ``https://queue.fal.run`` is to fal): submit to ``{base_url}/{model id}``."""
        return self.root_url

    @property
    def jwks_url(self) -> str:
        return self.root_url + JWKS_PATH

    # -- controls ---------------------------------------------------------------------------------------

    @property
    def scenarios(self) -> ScenarioBook[Scenario]:
        return self._state.scenarios

    def set_concurrency(self, concurrency: int) -> None:
        """Run this many requests at once from now on (running ones keep their runner). ValueError if < 1."""
        with self._state.lock:
            self._state.settle(self.clock.now())
            self._state.queue.set_concurrency(concurrency)
        self.announce()

    def reset(self) -> None:
        """Forget requests, files, scenarios, rules, faults, counters, the request log and the webhook log
        (webhooks not yet sent are dropped); the runners go back to ``config.concurrency``."""
        super().reset()
        with self._state.lock:
            self._state = self._new_state()
        self._webhook_sender.clear()

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until no webhook is queued, waiting for a retry or being sent; False if ``timeout`` ran out.
        With a ManualClock, the webhooks a clock move made due are queued before the move returns."""
        return self._webhook_sender.flush(timeout)

    # -- what the app asks of its server ----------------------------------------------------------------

    def announce(self) -> None:
        """Something may have completed (a submit, a read, a cancel): hand due webhooks to the sender."""
        self._webhook_scheduler.poke()

    def output(self, record: QueuedRequest) -> dict[str, Any]:
        """The model output of a completed request: its video on the emulator's CDN (caller holds the lock)."""
        state = self._state
        with state.lock:
            if record.file_token is None:
                assert record.finished_at is not None
                expiry = record.file_expires_after_seconds
                record.file_token = state.new_file_path()
                state.files[record.file_token] = OutputFile(
                    record.id,
                    record.file_token,
                    record.scenario.video_bytes,
                    None if expiry is None else record.finished_at + expiry,
                )
            output = state.files[record.file_token]
        return {
            "video": {
                "url": self.root_url + FILES_PREFIX + output.path,
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": media.content_length("video", output.video_bytes),
            }
        }

    # -- webhooks ---------------------------------------------------------------------------------------

    def _emit_due_webhooks(self) -> float | None:
        """Hand the webhooks of requests that completed to the sender; return the queue's next event."""
        state = self._state
        with state.lock:
            state.settle(self.clock.now())
            completed, state.unannounced = state.unannounced, []
            for record in completed:
                self._send_webhook(record)
            return state.queue.next_event()

    def _send_webhook(self, record: QueuedRequest) -> None:
        result = record.result
        if record.webhook_url is None or record.webhook_emitted or result is None:
            return
        record.webhook_emitted = True
        scenario = record.scenario
        message = FalWebhook.for_result(
            record.id,
            result.ok,
            self.output(record) if result.ok else result.body,
            result.error,
            payload_error=scenario.webhook_payload_error,
            fault=scenario.webhook_fault,
        )
        target = WebhookTarget(record.webhook_url, FalSigner(self.keys, self.config.user_id, scenario.webhook_fault))
        self._webhook_sender.submit(message, target)
        if scenario.webhook_fault == "duplicate":
            self._webhook_sender.submit(message, target)

    # -- inspection -------------------------------------------------------------------------------------

    @property
    def submitted_count(self) -> int:
        """Successful submits (``POST /{model id}`` answered 200)."""
        with self._state.lock:
            return self._state.submitted_count

    def request_ids(self) -> list[str]:
        """Every request submitted so far, oldest first."""
        with self._state.lock:
            return [record.id for record in sorted(self._state.requests.values(), key=lambda r: r.seq)]

    def request(self, request_id: str) -> dict[str, Any]:
        """A request's state as the emulator sees it. KeyError if unknown."""
        state = self._state
        with state.lock:
            state.settle(self.clock.now())
            record = state.requests[request_id]
            output = state.files.get(record.file_token or "")
            return {
                "request_id": record.id,
                "endpoint_id": record.model.endpoint_id,
                "status": record.status,
                "queue_position": state.queue.position(record) if record.status == "IN_QUEUE" else None,
                "arguments": record.arguments,
                "invalid_input": record.invalid_input,
                "scenario": record.scenario.to_dict(),
                "submitted_at": record.submitted_at,
                "started_at": record.started_at,
                "finished_at": record.finished_at,
                "cancel_requested_at": record.cancel_requested_at,
                "result_status": None if record.result is None else record.result.status,
                "webhook_url": record.webhook_url,
                "file": None
                if output is None
                else {"path": output.path, "expires_at": output.expires_at, "downloads": output.downloads},
            }

    def webhook_log(self) -> list[dict[str, Any]]:
        """Every webhook since the last reset, oldest first: ``{request_id, status, fault, attempts: [{status, at}],
        delivered}``; an attempt's status 0 means no response, ``at`` is wall-clock unix seconds."""
        return self._webhook_sender.log()

    def stats(self) -> dict[str, Any]:
        state = self._state
        with state.lock:
            state.settle(self.clock.now())
            statuses = [record.status for record in state.requests.values()]
            return {
                "submitted_count": state.submitted_count,
                "in_queue": statuses.count("IN_QUEUE"),
                "in_progress": statuses.count("IN_PROGRESS"),
                "completed": statuses.count("COMPLETED"),
                "concurrency": state.queue.concurrency,
                **self.control_stats(),
            }
