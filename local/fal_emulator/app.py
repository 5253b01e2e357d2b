"""The WSGI application: fal's queue protocol (https://docs.fal.ai/model-endpoints/queue), the output files of
its CDN, the JWKS that webhook receivers verify with, and the ``/_emulator/`` controls."""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from local.emulation import media
from local.emulation.api import EmulatedApi, EmulatedError, Route, format_seconds, json_response
from local.emulation.faults import Fault
from local.emulation.streaming import cut_after, stop_aware
from local.fal_emulator import errors
from local.fal_emulator.control_api import FalControlApi
from local.fal_emulator.errors import FalError
from local.fal_emulator.host import FalEmulatorHost
from local.fal_emulator.models import validation_errors
from local.fal_emulator.queue import QueuedRequest
from local.fal_emulator.signing import JWKS_PATH

log = logging.getLogger("local.fal_emulator")

FILES_PREFIX = "/files/"
# Status, result and cancel live under the app (owner/alias) only, never under the endpoint's path.
_REQUEST_ROUTE = re.compile(r"^/(?P<app>[^/]+/[^/]+)/requests/(?P<request_id>[^/]+)(?P<suffix>/status|/cancel)?$")
_LIFECYCLE_HEADER = "X-Fal-Object-Lifecycle-Preference"
_NGINX_PAGE = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
    "<center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class FalApp(EmulatedApi):
    """WSGI callable; all state lives on the server (a FalEmulatorHost)."""

    def __init__(self, server: FalEmulatorHost) -> None:
        super().__init__(server._faults, server._requests, server.stopping, controls=FalControlApi(server), logger=log)
        self.server = server

    # -- plumbing -------------------------------------------------------------------------------------

    def route(self, request: Request) -> Route:
        path, method = request.path, request.method
        if path == JWKS_PATH:
            if method != "GET":
                raise _method_not_allowed()
            return Route("jwks", self._jwks)
        if path.startswith(FILES_PREFIX):
            if method != "GET":
                raise _method_not_allowed()
            return Route("download", self._download, path[len(FILES_PREFIX) :])
        match = _REQUEST_ROUTE.match(path)
        if match:
            suffix, request_id = match["suffix"], match["request_id"]
            resource = f"{match['app']}|{request_id}"
            if suffix == "/status" and method == "GET":
                return Route("status", self._status, resource)
            if suffix == "/cancel" and method == "PUT":
                return Route("cancel", self._cancel, resource)
            if suffix is None and method == "GET":
                return Route("result", self._result, resource)
            raise _method_not_allowed()
        if method == "POST":
            return Route("submit", self._submit, path.strip("/"))
        raise errors.path_not_found(method, path)

    def authenticate(self, request: Request) -> None:
        """``Authorization: Key <FAL_KEY>``; the CDN and the JWKS are public."""
        if request.path == JWKS_PATH or request.path.startswith(FILES_PREFIX):
            return
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "key" or not key:
            raise errors.detail(401, errors.MISSING_KEY)
        expected = self.server.config.api_key
        if expected is not None and secrets.compare_digest(key.encode(), expected.encode()):
            return
        if ":" not in key:
            raise errors.detail(401, errors.MALFORMED_KEY)
        if expected is not None:
            raise errors.detail(401, errors.UNKNOWN_KEY)

    def fault_error(self, fault: Fault) -> EmulatedError:
        if fault.error_type == "ingress":
            return _IngressError(fault.status)
        if fault.status == 429:
            error = errors.detail(429, fault.message or "Too many requests")
        else:
            error = errors.request_error(fault.status, fault.error_type, fault.message)
        error.headers["x-fal-request-id"] = str(uuid.uuid4())
        if fault.retry_after is not None:
            error.headers["Retry-After"] = format_seconds(fault.retry_after)
        return error

    def too_large_error(self) -> EmulatedError:
        return errors.detail(413, "Request Entity Too Large")

    def internal_error(self) -> EmulatedError:
        return errors.request_error(500)

    # -- the queue ------------------------------------------------------------------------------------

    def _submit(self, request: Request, endpoint_id: str | None, _fault: Fault | None) -> Response:
        config = self.server.config
        model = config.models.get(endpoint_id or "")
        if model is None:
            raise errors.application_not_found(endpoint_id or "")
        webhook_url = request.args.get("fal_webhook")
        if webhook_url is not None:
            parts = urlsplit(webhook_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise errors.detail(400, f"Invalid webhook URL: {webhook_url!r}")
        arguments, invalid = _read_input(request)
        if not invalid:
            invalid = validation_errors(model, arguments)
        expiry = _lifecycle_preference(request)
        state = self.server._state
        now = self.server.clock.now()
        with state.lock:
            state.settle(now)
            prompt = arguments.get("prompt")
            scenario = state.scenarios.take(prompt if isinstance(prompt, str) else "")
            record = QueuedRequest(
                id=state.new_request_id(),
                seq=state.next_seq(),
                model=model,
                arguments=arguments,
                submitted_at=now,
                scenario=scenario,
                queue_seconds=config.queue_seconds if scenario.queue_seconds is None else scenario.queue_seconds,
                processing_seconds=(
                    config.processing_seconds if scenario.processing_seconds is None else scenario.processing_seconds
                ),
                invalid_input=invalid,
                webhook_url=webhook_url,
                file_expires_after_seconds=(
                    scenario.file_expires_after_seconds
                    if scenario.file_expires_after_seconds is not None
                    else expiry
                    if expiry is not None
                    else config.file_expires_after_seconds
                ),
            )
            state.requests[record.id] = record
            state.queue.submit(record)
            state.submitted_count += 1
            # The answer of the queue that took the request: IN_QUEUE, even if a runner took it at once.
            body = {
                "status": "IN_QUEUE",
                "request_id": record.id,
                "gateway_request_id": record.id,
                **self._urls(record),
                "queue_position": state.queue.position(record) if record.status == "IN_QUEUE" else 0,
            }
        self.server.announce()
        return self._answer(body, 200, record)

    def _status(self, request: Request, resource: str | None, _fault: Fault | None) -> Response:
        with_logs = request.args.get("logs", "0").lower() in ("1", "true")
        state = self.server._state
        now = self.server.clock.now()
        with state.lock:
            record = self._record(resource, now)
            body: dict[str, Any] = {
                "status": record.status,
                "request_id": record.id,
                **self._urls(record),
                "logs": record.logs(now) if with_logs else None,
                "metrics": record.metrics(),
            }
            if record.status == "IN_QUEUE":
                body["queue_position"] = state.queue.position(record)
            if record.result is not None and not record.result.ok:
                body["error"] = record.result.error
                body["error_type"] = record.result.error_type
        self.server.announce()
        return self._answer(body, 200 if record.status == "COMPLETED" else 202, record)

    def _result(self, _request: Request, resource: str | None, _fault: Fault | None) -> Response:
        now = self.server.clock.now()
        retention = self.server.config.result_retention_seconds
        with self.server._state.lock:
            record = self._record(resource, now)
            result = record.result
            if result is None:
                raise errors.result_not_ready()
            assert record.finished_at is not None
            if retention is not None and now >= record.finished_at + retention:
                raise errors.request_not_found()
            body = self.server.output(record) if result.ok else result.body
        self.server.announce()
        response = self._answer(body, result.status, record)
        for name, value in result.headers.items():
            response.headers[name] = value
        return response

    def _cancel(self, _request: Request, resource: str | None, _fault: Fault | None) -> Response:
        state = self.server._state
        now = self.server.clock.now()
        with state.lock:
            try:
                record = self._record(resource, now)
            except FalError:
                return json_response({"status": "NOT_FOUND"}, 404)
            if record.status == "COMPLETED":
                return self._answer({"status": "ALREADY_COMPLETED"}, 400, record)
            if state.queue.cancel(record):
                state.unannounced.append(record)
        self.server.announce()
        return self._answer({"status": "CANCELLATION_REQUESTED"}, 202, record)

    def _record(self, resource: str | None, now: float) -> QueuedRequest:
        """The request under its app, after the queue caught up with ``now``; fal's 404 otherwise."""
        app_id, _, request_id = (resource or "").partition("|")
        state = self.server._state
        state.settle(now)
        record = state.requests.get(request_id)
        if record is None or record.model.app_id != app_id:
            raise errors.request_not_found()
        return record

    def _urls(self, record: QueuedRequest) -> dict[str, str]:
        base = f"{self.server.root_url}/{record.model.app_id}/requests/{record.id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    @staticmethod
    def _answer(body: Any, status: int, record: QueuedRequest) -> Response:
        response = json_response(body, status)
        response.headers["x-fal-request-id"] = record.id
        return response

    # -- the CDN and the JWKS -------------------------------------------------------------------------

    def _download(self, request: Request, path: str | None, fault: Fault | None) -> Response:
        now = self.server.clock.now()
        with self.server._state.lock:
            output = self.server._state.files.get(path or "")
            if output is None:
                return _plain(404, "Not Found")
            if output.expires_at is not None and now >= output.expires_at:
                status = self.server.config.expired_file_status
                return _plain(status, "Forbidden" if status == 403 else "Not Found")
            output.downloads += 1
            video_bytes = output.video_bytes
        chunks = media.iter_content("video", video_bytes, output.request_id)
        if fault is not None and fault.kind == "reset":
            chunks = cut_after(chunks, fault.reset_after_bytes, request.environ)
        body = stop_aware(chunks, self.server.stopping.is_set, request.environ)
        response = Response(body, 200, mimetype="video/mp4", direct_passthrough=True)
        response.headers["Content-Length"] = str(media.content_length("video", video_bytes))
        return response

    def _jwks(self, _request: Request, _resource: str | None, _fault: Fault | None) -> Response:
        return json_response(self.server.keys.jwks())


class _IngressError(EmulatedError):
    """A gateway's nginx error page: not JSON, no ``x-fal-request-id``."""

    def __init__(self, status: int) -> None:
        super().__init__(status, "ingress error", headers={"Server": "nginx"})

    def body(self) -> Any:
        return None

    def response(self) -> Response:
        text = f"{self.status} {HTTPStatus(self.status).phrase}"
        response = Response(_NGINX_PAGE.format(status=text), self.status, mimetype="text/html")
        response.headers.update(self.headers)
        return response


def _read_input(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The input object, or the validation error the model app answers for a body that is not one."""
    raw = request.get_data()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        entry = {"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid", "input": {}}
        return {}, [entry]
    if not isinstance(body, dict):
        entry = {"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type", "input": body}
        return {}, [entry]
    return body, []


def _lifecycle_preference(request: Request) -> float | None:
    """``X-Fal-Object-Lifecycle-Preference: {"expiration_duration_seconds": N}`` (the queue page's "Object
    Lifecycle"); anything else is ignored."""
    raw = request.headers.get(_LIFECYCLE_HEADER)
    if raw is None:
        return None
    try:
        value = json.loads(raw).get("expiration_duration_seconds")
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _plain(status: int, text: str) -> Response:
    return Response(text, status, mimetype="text/plain")


def _method_not_allowed() -> FalError:
    return errors.detail(405, "Method Not Allowed")
