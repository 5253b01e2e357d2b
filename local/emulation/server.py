"""The base of every emulator's server: a threaded werkzeug server in a background thread that can stop and start
again on the same port (a provider outage and recovery), the log of the API requests it answered, and the controls
every emulator has (scripted scenarios, prompt rules, injected faults)."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.emulation.clock import Clock, ManualClock
from local.emulation.faults import Fault, FaultBook
from local.emulation.scenarios import ScenarioBook

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

_SERVE_POLL_SECONDS = 0.05


class RequestLog:
    """``(method, path, status)`` of every API request, oldest first; status 0 means no response was sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str, int]] = []

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._entries.append((method, path, status))

    def entries(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _request_handler_logging_to(logger: logging.Logger) -> type[WSGIRequestHandler]:
    class RequestHandler(WSGIRequestHandler):
        """Sends werkzeug's access log to the emulator's logger instead of stderr."""

        def log(self, type: str, message: str, *args: Any) -> None:
            getattr(logger, type if type in ("debug", "info", "warning", "error") else "info")(
                "%s - %s", self.address_string(), message % args
            )

    return RequestHandler


class ThreadedServer:
    """Serves ``wsgi_app()`` on ``host:port`` (port 0 picks a free one) in a daemon thread.

    Subclasses give the app, and start and stop their own workers in ``_on_start`` / ``_on_stop``.
    ``stopping`` is set while the server stops, so requests that sleep or stream can give up their connection.
    """

    def __init__(self, host: str, port: int, *, name: str, logger: logging.Logger) -> None:
        self._host = host
        self._configured_port = port
        self._name = name
        self._logger = logger
        self._stopping = threading.Event()
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def wsgi_app(self) -> WSGIApplication:
        raise NotImplementedError

    def _on_start(self) -> None:
        """Start the subclass's own workers (called once the server listens)."""

    def _on_stop(self) -> None:
        """Stop the subclass's own workers (called once the server stopped serving)."""

    def start(self) -> Self:
        """Bind and serve in a background thread. After stop(), start() serves again on the same port
        with the same state, which simulates a provider outage and recovery."""
        if self.running:
            raise RuntimeError("the emulator is already running")
        port = self._port if self._port is not None else self._configured_port
        self._stopping.clear()
        handler = _request_handler_logging_to(self._logger)
        httpd = make_server(self._host, port, self.wsgi_app(), threaded=True, request_handler=handler)
        self._httpd, self._port = httpd, int(httpd.server_port)
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _SERVE_POLL_SECONDS},
            name=f"{self._name}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        self._on_start()
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
        self._on_stop()

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> Self:
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
        host = self._host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url`` (ends with ``/v1``)."""
        return self.root_url + "/v1"


class _Scenario(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class ServerSettings(Protocol):
    """The fields of an emulator's config that the shared server reads."""

    host: str
    port: int
    seed: int


ScenarioT = TypeVar("ScenarioT", bound=_Scenario)


class ScriptedServer(ThreadedServer, Generic[ScenarioT]):
    """A ThreadedServer with the controls every emulator has: scripted scenarios and prompt rules, injected faults
    on the provider's ``operations``, and the request log. Subclasses give their state's `scenarios` and extend
    `reset` and `stats`."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        name: str,
        logger: logging.Logger,
        clock: Clock,
        operations: tuple[str, ...],
    ) -> None:
        super().__init__(settings.host, settings.port, name=name, logger=logger)
        self.clock = clock
        self._faults = FaultBook(settings.seed, operations)
        self._requests = RequestLog()

    @property
    def scenarios(self) -> ScenarioBook[ScenarioT]:
        raise NotImplementedError

    def script_next(self, scenario: ScenarioT) -> None:
        """Queue a scenario for the next generation (FIFO; before any rule)."""
        self.scenarios.script_next(scenario)

    def add_rule(self, *, prompt_contains: str, scenario: ScenarioT) -> None:
        """Any generation whose prompt contains the text (case-sensitive) uses the scenario; first rule wins."""
        self.scenarios.add_rule(prompt_contains, scenario)

    def clear_scenarios(self) -> None:
        self.scenarios.clear_scripted()

    def clear_rules(self) -> None:
        self.scenarios.clear_rules()

    def inject(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults, each with ``remaining`` (None: unlimited) and ``fired`` (how often it hit)."""
        return self._faults.snapshot()

    def reset(self) -> None:
        """Forget the faults and the request log (subclasses forget their state too)."""
        self._faults.clear()
        self._requests.clear()

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every API request; status 0 means no response was sent."""
        return self._requests.entries()

    def control_stats(self) -> dict[str, Any]:
        """The shared part of ``stats()``: requests, scripted scenarios, rules, faults, the clock."""
        return {
            "requests": len(self._requests),
            "scripted_scenarios": self.scenarios.scripted_count,
            "rules": [
                {"prompt_contains": rule.prompt_contains, "scenario": rule.scenario.to_dict()}
                for rule in self.scenarios.rules()
            ],
            "faults": self.faults(),
            "now": self.clock.now(),
            "manual_clock": isinstance(self.clock, ManualClock),
        }
