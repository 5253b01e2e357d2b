"""The request pipeline every emulated API shares: its routes behind the injected faults, errors as the
provider's bodies, the request log, and the ``/_emulator`` controls beside the API."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from local.emulation.faults import LATE_ANSWER_HEADER, Fault, FaultBook
from local.emulation.server import RequestLog
from local.emulation.streaming import DroppedConnection, drop_connection

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_REQUEST_BYTES = 64 * 1024 * 1024
CONTROL_PREFIX = "/_emulator"


class EmulatedError(Exception):
    """An error answer of an emulated API: a status, the provider's body, extra headers (Retry-After, for one)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> Any:
        raise NotImplementedError

    def response(self) -> Response:
        """The answer: ``body()`` as JSON by default; a provider's error that is not JSON overrides this."""
        return error_response(self)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def error_response(error: EmulatedError) -> Response:
    """The API's error body and status, with the error's headers (Retry-After, for one)."""
    response = json_response(error.body(), error.status)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def read_json_object(
    request: Request, error: Callable[[int, str], EmulatedError], unparseable: str = "The body is not valid JSON."
) -> dict[str, Any]:
    """The JSON object of a request's body ({} when it is empty); ``error(400, ...)`` when it is not one."""
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise error(400, unparseable) from None
    if not isinstance(body, dict):
        raise error(400, "The request body must be a JSON object.")
    return body


def format_seconds(seconds: float) -> str:
    """A Retry-After value: whole seconds without a decimal point."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


Handler = Callable[[Request, str | None, Fault | None], Response]


@dataclass
class Route:
    """One API operation: its name in the fault book, its handler, and the id in its path (if any)."""

    operation: str
    handler: Handler
    resource_id: str | None = None


class ControlRoutes(Protocol):
    """The ``/_emulator`` controls beside the API (a `local.emulation.control_api.ControlApi`)."""

    def handle(self, request: Request) -> Response: ...


class EmulatedApi:
    """A WSGI callable: the ``/_emulator`` controls, and the provider's API with its faults applied.

    Subclasses authenticate, route, and build the provider's errors. Per request: authenticate, route, fire the
    faults of the operation (latencies wait first; an ``http_error`` answers without running it), run the handler,
    then apply a ``timeout`` (answer late) or ``reset`` (drop the connection; downloads cut their own body).
    """

    def __init__(
        self,
        faults: FaultBook,
        requests: RequestLog,
        stopping: threading.Event,
        *,
        controls: ControlRoutes,
        logger: logging.Logger,
        download_operations: Iterable[str] = ("download",),
    ) -> None:
        self._faults = faults
        self._requests = requests
        self._stopping = stopping
        self._controls = controls
        self._logger = logger
        self._download_operations = frozenset(download_operations)

    # -- what a provider supplies ---------------------------------------------------------------------

    def authenticate(self, request: Request) -> None:
        """Raise the provider's EmulatedError when the request may not use the API."""
        raise NotImplementedError

    def route(self, request: Request) -> Route:
        raise NotImplementedError

    def fault_error(self, fault: Fault) -> EmulatedError:
        """The error an ``http_error`` fault answers (with Retry-After when the fault has one)."""
        raise NotImplementedError

    def too_large_error(self) -> EmulatedError:
        raise NotImplementedError

    def internal_error(self) -> EmulatedError:
        raise NotImplementedError

    def finish_headers(self, response: Response, started: float) -> None:
        """Add the provider's response headers (request ids, versions); ``started`` is time.monotonic()."""

    # -- the pipeline ---------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        try:
            if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
                response = self._controls.handle(request)
                self.finish_headers(response, started)
            else:
                response = self._serve_api(request, started)
        finally:
            request.close()  # closes spooled uploads at once
        return response(environ, start_response)

    def _serve_api(self, request: Request, started: float) -> Response:
        fault: Fault | None = None
        operation = "unknown"
        try:
            self.authenticate(request)
            route = self.route(request)
            operation = route.operation
            plan = self._faults.plan(operation)
            if plan.delay_before_ms:
                self.pause(request, plan.delay_before_ms)
            fault = plan.terminal
            if fault is not None and fault.kind == "http_error":
                raise self.fault_error(fault)
            response = route.handler(request, route.resource_id, fault)
        except EmulatedError as error:
            response = error.response()
        except RequestEntityTooLarge:
            response = self.too_large_error().response()
        except DroppedConnection:
            self._log_request(request, 0)
            raise
        except Exception:
            self._logger.exception("emulator failed on %s %s", request.method, request.path)
            response = self.internal_error().response()
        self.finish_headers(response, started)
        if fault is not None and fault.kind == "timeout":
            response.headers[LATE_ANSWER_HEADER] = "true"
            self._log_request(request, response.status_code)
            self.pause(request, fault.latency_ms)
            return response
        if fault is not None and fault.kind == "reset" and operation not in self._download_operations:
            self._log_request(request, 0)
            drop_connection(request.environ)
        self._log_request(request, response.status_code)
        return response

    def pause(self, request: Request, milliseconds: int) -> None:
        """Sleep, but give up the connection at once if the server is stopping."""
        if self._stopping.wait(milliseconds / 1000):
            drop_connection(request.environ)

    def _log_request(self, request: Request, status: int) -> None:
        self._requests.add(request.method, request.path, status)
