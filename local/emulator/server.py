"""EmulatorServer: a real HTTP server speaking the OpenAI Videos protocol, run in a background thread."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.emulator import media
from local.emulator.app import EmulatorApp
from local.emulator.clock import Clock, ManualClock, SystemClock
from local.emulator.faults import Fault, FaultBook
from local.emulator.host import EmulatorConfig
from local.emulator.scenarios import Scenario
from local.emulator.state import EmulatorState, Rule, lifecycle, terminal_at, video_object
from local.emulator.webhooks import WebhookEndpoint, WebhookEvent, WebhookScheduler, WebhookSender

log = logging.getLogger("local.emulator")

_SERVE_POLL_SECONDS = 0.05


class _RequestHandler(WSGIRequestHandler):
    """Sends werkzeug's access log to the emulator's logger instead of stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(log, type if type in ("debug", "info", "warning", "error") else "info")(
            "%s - %s", self.address_string(), message % args
        )


class EmulatorServer:
    """The local OpenAI Videos API. Point the SDK at ``base_url``; steer it with scenarios and faults."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self._state = EmulatorState(self.config.default_scenario, self.config.id_seed)
        self._faults = FaultBook(self.config.seed)
        self._stopping = threading.Event()
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._webhook_endpoint = WebhookEndpoint.from_settings(self.config.webhook_url, self.config.webhook_secret)
        timestamp = self.clock.now if self.config.webhook_timestamps_from_clock else time.time
        self._webhook_sender = WebhookSender(self.config.webhook_retry_delays, timestamp=timestamp)
        self._webhook_scheduler = WebhookScheduler(self.clock, self._emit_due_webhooks)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread. After stop(), start() serves again on the same port
        with the same state, which simulates a provider outage and recovery."""
        if self.running:
            raise RuntimeError("the emulator is already running")
        port = self._port if self._port is not None else self.config.port
        self._stopping.clear()
        httpd = make_server(self.config.host, port, EmulatorApp(self), threaded=True, request_handler=_RequestHandler)
        self._httpd, self._port = httpd, int(httpd.server_port)
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _SERVE_POLL_SECONDS},
            name=f"openai-videos-emulator:{self._port}",
            daemon=True,
        )
        self._thread.start()
        self._webhook_sender.start(f"openai-videos-emulator-webhooks:{self._port}")
        self._webhook_scheduler.start(f"openai-videos-emulator-webhook-scheduler:{self._port}")
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); requests that are sleeping or streaming drop their connection at once."""
        self._stopping.set()
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._webhook_scheduler.stop()
        self._webhook_sender.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> EmulatorServer:
        return self if self.running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator has not been started")
        return self._port

    @property
    def root_url(self) -> str:
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url`` (ends with ``/v1``)."""
        return self.root_url + "/v1"

    # -- controls ---------------------------------------------------------------------------------------

    def script_next(self, scenario: Scenario) -> None:
        """Queue a scenario for the next video generation (FIFO; before any rule)."""
        with self._state.lock:
            self._state.scripted.append(scenario)

    def add_rule(self, *, prompt_contains: str, scenario: Scenario) -> None:
        """Any generation whose prompt contains the text (case-sensitive) uses the scenario; first rule wins."""
        with self._state.lock:
            self._state.rules.append(Rule(prompt_contains, scenario))

    def clear_scenarios(self) -> None:
        with self._state.lock:
            self._state.scripted.clear()

    def clear_rules(self) -> None:
        with self._state.lock:
            self._state.rules.clear()

    def inject(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults, each with ``remaining`` (None: unlimited) and ``fired`` (how often it hit)."""
        return self._faults.snapshot()

    def reset(self) -> None:
        """Forget videos, scenarios, rules, faults, counters, the request log and the webhook log
        (webhooks not yet sent are dropped; the webhook endpoint stays)."""
        self._faults.clear()
        with self._state.lock:
            self._state = EmulatorState(self.config.default_scenario, self.config.id_seed)
        self._webhook_sender.clear()

    def configure_webhooks(self, url: str | None, secret: str | None) -> None:
        """Send webhooks to ``url`` signed with ``secret`` ("whsec_<base64 key>"); either None turns them off.
        Videos that turned terminal before the switch keep the previous setting. ValueError if invalid."""
        endpoint = WebhookEndpoint.from_settings(url, secret)
        with self._state.lock:
            due, _ = self._take_due_webhooks()
            self._webhook_endpoint = endpoint
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

    def _take_due_webhooks(self) -> tuple[list[tuple[WebhookEvent, WebhookEndpoint]], float | None]:
        """Marks videos that turned terminal as handled (caller holds the state lock). Their events are
        returned when webhooks are on and the video is not overridden to ``expired``."""
        now = self.clock.now()
        endpoint = self._webhook_endpoint
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
        if endpoint is None:
            return [], next_due
        events = [(WebhookEvent.new(kind, video_id, moment), endpoint) for moment, _, kind, video_id in sorted(turned)]
        return events, next_due

    def _submit_webhooks(self, due: list[tuple[WebhookEvent, WebhookEndpoint]]) -> None:
        for event, endpoint in due:
            self._webhook_sender.submit(event, endpoint)

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

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every /v1 request; status 0 means no response was sent."""
        with self._state.lock:
            return list(self._state.request_log)

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
            cached_sha = record.content_sha256
            internal = {
                "deleted": record.deleted_at is not None,
                "deleted_at": record.deleted_at,
                "scenario": record.scenario.to_dict(),
                "queue_seconds": record.queue_seconds,
                "render_seconds": record.render_seconds,
                "input_reference": record.input_reference,
                "downloads": dict(record.downloads),
            }
        if cached_sha is None:
            # Hash outside the lock: a synthetic video may be gigabytes.
            cached_sha = media.sha256_of_content("video", video_bytes, video_id)
            with self._state.lock:
                record.content_sha256 = cached_sha
        return {
            **body,
            **internal,
            "content_sha256": cached_sha,
            "content_bytes": media.content_length("video", video_bytes),
        }

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
                "requests": len(state.request_log),
                "scripted_scenarios": len(state.scripted),
                "rules": [
                    {"prompt_contains": r.prompt_contains, "scenario": r.scenario.to_dict()} for r in state.rules
                ],
                "faults": self.faults(),
                "now": self.clock.now(),
                "manual_clock": isinstance(self.clock, ManualClock),
            }
