"""The WSGI application: the ``/v1/videos`` protocol and the ``/_emulator/`` controls."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from local.emulator import errors, media
from local.emulator.clock import ManualClock
from local.emulator.errors import ApiError
from local.emulator.faults import Fault
from local.emulator.host import EmulatorHost
from local.emulator.scenarios import Scenario
from local.emulator.state import VideoRecord, lifecycle, video_object

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


log = logging.getLogger("local.emulator")

PROMPT_MAX_CHARS = 32_000
SECONDS = ["4", "8", "12"]
SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"]
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
REFERENCE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_REQUEST_BYTES = 64 * 1024 * 1024
NOT_READY_STATUSES = ("queued", "in_progress")

_VIDEO_ROUTE = re.compile(r"^/v1/videos/(?P<video_id>[^/]+)(?P<suffix>/content|/remix)?$")
_CONTROL_VIDEO_ROUTE = re.compile(r"^/_emulator/videos/(?P<video_id>[^/]+)$")
_SNAPSHOT_SUFFIX = re.compile(r"^-\d{4}-\d{2}-\d{2}$")


class DroppedConnection(ConnectionAbortedError):
    """Raised to make werkzeug abandon a connection quietly (an injected fault)."""


@dataclass
class _Route:
    operation: str
    handler: Callable[[Request, str | None, Fault | None], Response]
    video_id: str | None = None


class EmulatorApp:
    """WSGI callable; all state lives on the server (an EmulatorHost)."""

    def __init__(self, server: EmulatorHost) -> None:
        self.server = server

    # -- plumbing -------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        request_id = "req_" + secrets.token_hex(16)
        try:
            if request.path == "/_emulator" or request.path.startswith("/_emulator/"):
                response = self._control(request)
                self._finish_headers(response, request_id, started)
            else:
                response = self._serve_api(request, request_id, started)
        finally:
            request.close()  # closes spooled uploads at once
        return response(environ, start_response)

    def _serve_api(self, request: Request, request_id: str, started: float) -> Response:
        fault: Fault | None = None
        operation = "unknown"
        try:
            self._authenticate(request)
            route = self._route(request)
            operation = route.operation
            plan = self.server._faults.plan(operation)
            if plan.delay_before_ms:
                self._pause(request, plan.delay_before_ms)
            fault = plan.terminal
            if fault is not None and fault.kind == "http_error":
                raise self._fault_error(fault)
            response = route.handler(request, route.video_id, fault)
        except ApiError as error:
            response = self._error_response(error)
        except RequestEntityTooLarge:
            response = self._error_response(ApiError(413, "Request body too large."))
        except DroppedConnection:
            self._log_request(request, 0)
            raise
        except Exception:
            log.exception("emulator failed on %s %s", request.method, request.path)
            response = self._error_response(errors.http_error_for_status(500))
        self._finish_headers(response, request_id, started)
        if fault is not None and fault.kind == "timeout":
            self._log_request(request, response.status_code)
            self._pause(request, fault.latency_ms)
            return response
        if fault is not None and fault.kind == "reset" and operation != "download":
            self._log_request(request, 0)
            _drop_connection(request.environ)
        self._log_request(request, response.status_code)
        return response

    def _route(self, request: Request) -> _Route:
        path, method = request.path, request.method
        if path == "/v1/videos":
            if method == "POST":
                return _Route("create", self._create)
            if method == "GET":
                return _Route("list", self._list)
        match = _VIDEO_ROUTE.match(path)
        if match:
            video_id, suffix = match["video_id"], match["suffix"]
            if suffix is None and method == "GET":
                return _Route("retrieve", self._retrieve, video_id)
            if suffix is None and method == "DELETE":
                return _Route("delete", self._delete, video_id)
            if suffix == "/content" and method == "GET":
                return _Route("download", self._download, video_id)
            if suffix == "/remix" and method == "POST":
                return _Route("remix", self._remix, video_id)
        raise errors.invalid_url(method, path)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
                "https://platform.openai.com/account/api-keys.",
            )
        expected = self.server.config.api_key
        if expected is not None and not secrets.compare_digest(key.encode(), expected.encode()):
            raise ApiError(
                401,
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _fault_error(self, fault: Fault) -> ApiError:
        error = errors.http_error_for_status(fault.status, fault.code, fault.message, fault.error_type)
        if fault.retry_after is not None:
            error.headers["retry-after"] = _format_seconds(fault.retry_after)
        return error

    def _pause(self, request: Request, milliseconds: int) -> None:
        """Sleep, but give up the connection at once if the server is stopping."""
        if self.server._stopping.wait(milliseconds / 1000):
            _drop_connection(request.environ)

    def _error_response(self, error: ApiError) -> Response:
        response = _json_response(error.body(), error.status)
        for name, value in error.headers.items():
            response.headers[name] = value
        return response

    def _finish_headers(self, response: Response, request_id: str, started: float) -> None:
        response.headers["x-request-id"] = request_id
        response.headers["openai-version"] = "2020-10-01"
        response.headers["openai-processing-ms"] = str(int((time.monotonic() - started) * 1000))

    def _log_request(self, request: Request, status: int) -> None:
        with self.server._state.lock:
            self.server._state.request_log.append((request.method, request.path, status))

    def _now(self) -> float:
        return self.server.clock.now()

    def _video(self, record: VideoRecord, now: float) -> dict[str, Any]:
        return video_object(record, now, self.server.config.expires_after_seconds)

    def _live(self, video_id: str | None) -> VideoRecord:
        record = self.server._state.live(video_id or "")
        if record is None:
            raise errors.video_not_found(video_id or "")
        return record

    # -- /v1/videos -----------------------------------------------------------------------------------

    def _create(self, request: Request, _video_id: str | None, _fault: Fault | None) -> Response:
        fields, files = _read_body(request)
        params = self._validate_create(fields, files)
        state = self.server._state
        now = self._now()
        with state.lock:
            scenario = state.take_scenario(params["prompt"])
            _raise_if_rejected(scenario)
            record = self._new_record(params, scenario, now)
            state.created_count += 1
        self.server._webhook_scheduler.poke()
        return _json_response(self._video(record, now))

    def _remix(self, request: Request, video_id: str | None, _fault: Fault | None) -> Response:
        fields, files = _read_body(request)
        for name in [*fields, *files]:
            if name != "prompt":
                raise errors.unknown_parameter(name)
        prompt = _validate_prompt(fields.get("prompt", _MISSING))
        state = self.server._state
        now = self._now()
        with state.lock:
            source = self._live(video_id)
            status = lifecycle(source, now, self.server.config.expires_after_seconds).status
            if status != "completed":
                raise ApiError(
                    400,
                    f"Video '{source.id}' is not completed (status '{status}'). Only completed videos can be remixed.",
                    param="video_id",
                )
            scenario = state.take_scenario(prompt)
            _raise_if_rejected(scenario)
            params = {"prompt": prompt, "model": source.model, "size": source.size, "seconds": source.seconds}
            record = self._new_record(params, scenario, now, remixed_from=source.id)
            state.remix_count += 1
        self.server._webhook_scheduler.poke()
        return _json_response(self._video(record, now))

    def _new_record(
        self, params: dict[str, Any], scenario: Scenario, now: float, remixed_from: str | None = None
    ) -> VideoRecord:
        config = self.server.config
        state = self.server._state
        video_id = state.new_video_id()
        record = VideoRecord(
            id=video_id,
            seq=state.next_seq(),
            model=params["model"],
            prompt=params["prompt"],
            size=params["size"],
            seconds=params["seconds"],
            created=now,
            scenario=scenario,
            queue_seconds=config.queue_seconds if scenario.queue_seconds is None else scenario.queue_seconds,
            render_seconds=config.render_seconds if scenario.render_seconds is None else scenario.render_seconds,
            remixed_from_video_id=remixed_from,
            input_reference=params.get("input_reference"),
        )
        state.videos[video_id] = record
        return record

    def _retrieve(self, _request: Request, video_id: str | None, _fault: Fault | None) -> Response:
        now = self._now()
        with self.server._state.lock:
            body = self._video(self._live(video_id), now)
        response = _json_response(body)
        if body["status"] in NOT_READY_STATUSES:
            response.headers["openai-poll-after-ms"] = str(self.server.config.poll_after_ms)
        return response

    def _list(self, request: Request, _video_id: str | None, _fault: Fault | None) -> Response:
        limit = _parse_limit(request.args.get("limit"), self.server.config.max_list_limit)
        order = request.args.get("order", "desc")
        if order not in ("asc", "desc"):
            raise errors.invalid_value("order", order, ["asc", "desc"])
        after = request.args.get("after") or None
        state = self.server._state
        now = self._now()
        with state.lock:
            records = state.live_in_order()
            if order == "desc":
                records.reverse()
            if after is not None:
                cursor = state.videos.get(after)  # deleted videos still work as cursors
                if cursor is None:
                    raise ApiError(
                        400, f"Invalid 'after': no video found with id '{after}'.", param="after", code="invalid_value"
                    )
                records = [r for r in records if (r.seq > cursor.seq if order == "asc" else r.seq < cursor.seq)]
            page = records[:limit]
            data = [self._video(r, now) for r in page]
        return _json_response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(records) > limit,
            }
        )

    def _delete(self, _request: Request, video_id: str | None, _fault: Fault | None) -> Response:
        now = self._now()
        with self.server._state.lock:
            record = self._live(video_id)
            status = lifecycle(record, now, self.server.config.expires_after_seconds).status
            if status not in ("completed", "failed"):
                raise ApiError(
                    400,
                    f"Video '{record.id}' cannot be deleted while its status is '{status}'. "
                    "Only completed or failed videos can be deleted.",
                    param="video_id",
                )
            record.deleted_at = now
        return _json_response({"id": record.id, "object": "video.deleted", "deleted": True})

    def _download(self, request: Request, video_id: str | None, fault: Fault | None) -> Response:
        variant = request.args.get("variant", "video")
        if variant not in media.VARIANTS:
            raise errors.invalid_value("variant", variant, list(media.VARIANTS))
        now = self._now()
        with self.server._state.lock:
            record = self._live(video_id)
            state = lifecycle(record, now, self.server.config.expires_after_seconds)
            if state.status in NOT_READY_STATUSES:
                raise ApiError(
                    404,
                    f"Video is not ready yet, use GET /v1/videos/{record.id} to check status.",
                    code="video_not_ready",
                )
            if state.status == "failed":
                raise ApiError(
                    400,
                    f"Video '{record.id}' failed to generate, so it has no content to download.",
                    param="video_id",
                    code="video_failed",
                )
            if state.expired(now) or record.scenario.status_override == "expired":
                raise ApiError(
                    404,
                    f"The content of video '{record.id}' has expired. Generated content can be downloaded "
                    "for 1 hour after the video completes.",
                    code="video_expired",
                )
            record.downloads[variant] = record.downloads.get(variant, 0) + 1
            video_bytes = record.scenario.video_bytes
        length = media.content_length(variant, video_bytes)
        chunks = media.iter_content(variant, video_bytes, record.id)
        if fault is not None and fault.kind == "reset":
            chunks = _cut_after(chunks, fault.reset_after_bytes, request.environ)
        body = _stop_aware(chunks, self.server._stopping.is_set, request.environ)
        response = Response(body, 200, mimetype=media.VARIANTS[variant].content_type, direct_passthrough=True)
        response.headers["Content-Length"] = str(length)
        return response

    def _validate_create(self, fields: dict[str, Any], files: dict[str, FileStorage]) -> dict[str, Any]:
        for name in [*fields, *files]:
            if name not in CREATE_FIELDS:
                raise errors.unknown_parameter(name)
        params: dict[str, Any] = {"prompt": _validate_prompt(fields.get("prompt", _MISSING))}
        model = fields.get("model", "sora-2")
        if not isinstance(model, str):
            raise errors.invalid_type("model", "a string", model)
        if not self._model_allowed(model):
            raise errors.invalid_value("model", model, list(self.server.config.models))
        params["model"] = model
        params["seconds"] = _validate_choice("seconds", fields.get("seconds", "4"), SECONDS)
        params["size"] = _validate_choice("size", fields.get("size", "720x1280"), SIZES)
        if "input_reference" in files:
            params["input_reference"] = _validate_reference_file(files["input_reference"])
        elif "input_reference" in fields:
            params["input_reference"] = _validate_reference_object(fields["input_reference"])
        return params

    def _model_allowed(self, model: str) -> bool:
        for allowed in self.server.config.models:
            if model == allowed:
                return True
            if model.startswith(allowed) and _SNAPSHOT_SUFFIX.match(model[len(allowed) :]):
                return True
        return False

    # -- /_emulator controls ----------------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        try:
            return self._control_route(request)
        except ApiError as error:
            return self._error_response(error)
        except (ValueError, TypeError) as error:
            return self._error_response(ApiError(400, str(error)))

    def _control_route(self, request: Request) -> Response:
        server = self.server
        path, method = request.path, request.method
        if path == "/_emulator/scenario" and method == "POST":
            server.script_next(Scenario.from_dict(_json_object(request)))
            return _json_response({"scripted": server.stats()["scripted_scenarios"]})
        if path == "/_emulator/scenario" and method == "DELETE":
            server.clear_scenarios()
            return _json_response({"scripted": 0})
        if path == "/_emulator/rules" and method == "POST":
            body = _json_object(request)
            unknown = sorted(set(body) - {"prompt_contains", "scenario"})
            valid = isinstance(body.get("prompt_contains"), str) and isinstance(body.get("scenario"), dict)
            if unknown or not valid:
                raise ApiError(400, 'Expected {"prompt_contains": str, "scenario": {...}}.')
            server.add_rule(prompt_contains=body["prompt_contains"], scenario=Scenario.from_dict(body["scenario"]))
            return _json_response({"rules": server.stats()["rules"]})
        if path == "/_emulator/rules" and method == "DELETE":
            server.clear_rules()
            return _json_response({"rules": []})
        if path == "/_emulator/faults" and method == "POST":
            server.inject(Fault.from_dict(_json_object(request)))
            return _json_response({"faults": server.stats()["faults"]})
        if path == "/_emulator/faults" and method == "GET":
            return _json_response({"faults": server.stats()["faults"]})
        if path == "/_emulator/faults" and method == "DELETE":
            server.clear_faults()
            return _json_response({"faults": []})
        if path == "/_emulator/clock/advance" and method == "POST":
            return self._advance_clock(request)
        if path == "/_emulator/stats" and method == "GET":
            return _json_response(server.stats())
        if path == "/_emulator/requests" and method == "GET":
            return _json_response({"requests": [list(entry) for entry in server.request_log]})
        if path == "/_emulator/webhooks" and method == "GET":
            return _json_response(server.webhook_log())
        if path == "/_emulator/webhooks/config" and method == "POST":
            return self._configure_webhooks(request)
        if path == "/_emulator/reset" and method == "POST":
            server.reset()
            return _json_response(server.stats())
        match = _CONTROL_VIDEO_ROUTE.match(path)
        if match and method == "GET":
            try:
                return _json_response(server.video(match["video_id"]))
            except KeyError:
                raise errors.video_not_found(match["video_id"]) from None
        raise errors.invalid_url(method, path)

    def _configure_webhooks(self, request: Request) -> Response:
        body = _json_object(request)
        unknown = sorted(set(body) - {"url", "secret"})
        url, secret = body.get("url"), body.get("secret")
        if unknown or not all(value is None or isinstance(value, str) for value in (url, secret)):
            raise ApiError(400, 'Expected {"url": str | null, "secret": "whsec_..." | null}.')
        self.server.configure_webhooks(url, secret)
        return _json_response({"url": url, "enabled": url is not None and secret is not None})

    def _advance_clock(self, request: Request) -> Response:
        clock = self.server.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(409, "The emulator runs on the system clock; only a ManualClock can be advanced.")
        seconds = _json_object(request).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, 'Expected {"seconds": n} with n >= 0.', param="seconds")
        return _json_response({"now": clock.advance(seconds)})


# -- helpers ---------------------------------------------------------------------------------------------

_MISSING = object()


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _json_object(request: Request) -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _unparseable_json() from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _unparseable_json() -> ApiError:
    return ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    )


def _read_body(request: Request) -> tuple[dict[str, Any], dict[str, FileStorage]]:
    """Fields and file parts of a JSON, multipart or urlencoded body."""
    mimetype = request.mimetype
    if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = {key: request.form[key] for key in request.form}
        files = {key: request.files[key] for key in request.files}
        return fields, files
    if mimetype in ("application/json", "") or mimetype.endswith("+json"):
        return _json_object(request), {}
    raise ApiError(
        400,
        f"Unsupported content type: '{mimetype}'. This API method only accepts 'application/json' "
        "and 'multipart/form-data' requests.",
    )


def _validate_prompt(prompt: Any) -> str:
    if prompt is _MISSING or prompt is None:
        raise errors.missing_parameter("prompt")
    if not isinstance(prompt, str):
        raise errors.invalid_type("prompt", "a string", prompt)
    if not prompt:
        raise ApiError(
            400,
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param="prompt",
            code="string_below_min_length",
        )
    if len(prompt) > PROMPT_MAX_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {PROMPT_MAX_CHARS}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def _validate_choice(param: str, value: Any, allowed: list[str]) -> str:
    if not isinstance(value, str):
        raise errors.invalid_type(param, "one of " + ", ".join(f"'{a}'" for a in allowed), value)
    if value not in allowed:
        raise errors.invalid_value(param, value, allowed)
    return value


def _validate_reference_file(upload: FileStorage) -> dict[str, Any]:
    data = upload.read()
    mimetype = upload.mimetype or ""
    if mimetype not in REFERENCE_MIME_TYPES:
        mimetype = _sniff_image(data) or mimetype
    if mimetype not in REFERENCE_MIME_TYPES:
        raise ApiError(
            400,
            f"Invalid file format for 'input_reference': '{mimetype or 'unknown'}'. "
            "Supported formats are: 'image/jpeg', 'image/png', and 'image/webp'.",
            param="input_reference",
            code="invalid_value",
        )
    return {
        "type": "file",
        "filename": upload.filename,
        "content_type": mimetype,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _validate_reference_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise errors.invalid_type("input_reference", "a file or an object", value) from None
    if not isinstance(value, dict):
        raise errors.invalid_type("input_reference", "a file or an object", value)
    for key in value:
        if key not in ("image_url", "file_id"):
            raise errors.unknown_parameter(f"input_reference.{key}")
    if len(value) != 1:
        raise ApiError(
            400,
            "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
            param="input_reference",
            code="invalid_value",
        )
    ((key, ref),) = value.items()
    if not isinstance(ref, str) or not ref:
        raise errors.invalid_type(f"input_reference.{key}", "a non-empty string", ref)
    return {"type": key, key: ref}


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _parse_limit(raw: str | None, maximum: int) -> int:
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise errors.invalid_type("limit", "an integer", raw) from None
    if limit < 1:
        raise ApiError(
            400,
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if limit > maximum:
        raise ApiError(
            400,
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return limit


def _raise_if_rejected(scenario: Scenario) -> None:
    if scenario.rejects:
        raise ApiError(scenario.reject_status, scenario.rejection_message(), code=scenario.reject_code)


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Cut the client's connection without finishing the response (werkzeug then drops it quietly)."""
    sock: socket.socket | None = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            # Linger 0 makes the final close send a TCP reset instead of a graceful FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise DroppedConnection("emulator fault: connection dropped")


def _cut_after(chunks: Iterator[bytes], limit: int, environ: WSGIEnvironment) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= limit:
            if limit > sent:
                yield chunk[: limit - sent]
            break
        yield chunk
        sent += len(chunk)
    _drop_connection(environ)


def _stop_aware(chunks: Iterator[bytes], stopping: Callable[[], bool], environ: WSGIEnvironment) -> Iterator[bytes]:
    for chunk in chunks:
        if stopping():
            _drop_connection(environ)
        yield chunk
