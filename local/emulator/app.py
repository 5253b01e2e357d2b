"""The WSGI application: the ``/v1/videos`` protocol and the ``/_emulator/`` controls."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from local.emulation import media
from local.emulation.api import EmulatedApi, EmulatedError, Route, format_seconds, json_response
from local.emulation.faults import Fault
from local.emulation.streaming import cut_after, stop_aware
from local.emulator import errors
from local.emulator.control_api import ControlApi
from local.emulator.errors import ApiError
from local.emulator.host import EmulatorHost
from local.emulator.requests import (
    MISSING,
    parse_limit,
    read_body,
    validate_create,
    validate_prompt,
)
from local.emulator.scenarios import Scenario
from local.emulator.state import VideoRecord, lifecycle, video_object

log = logging.getLogger("local.emulator")

NOT_READY_STATUSES = ("queued", "in_progress")

_VIDEO_ROUTE = re.compile(r"^/v1/videos/(?P<video_id>[^/]+)(?P<suffix>/content|/remix)?$")


class EmulatorApp(EmulatedApi):
    """WSGI callable; all state lives on the server (an EmulatorHost)."""

    def __init__(self, server: EmulatorHost) -> None:
        super().__init__(server._faults, server._requests, server.stopping, controls=ControlApi(server), logger=log)
        self.server = server

    # -- plumbing -------------------------------------------------------------------------------------

    def route(self, request: Request) -> Route:
        path, method = request.path, request.method
        if path == "/v1/videos":
            if method == "POST":
                return Route("create", self._create)
            if method == "GET":
                return Route("list", self._list)
        match = _VIDEO_ROUTE.match(path)
        if match:
            video_id, suffix = match["video_id"], match["suffix"]
            if suffix is None and method == "GET":
                return Route("retrieve", self._retrieve, video_id)
            if suffix is None and method == "DELETE":
                return Route("delete", self._delete, video_id)
            if suffix == "/content" and method == "GET":
                return Route("download", self._download, video_id)
            if suffix == "/remix" and method == "POST":
                return Route("remix", self._remix, video_id)
        raise errors.invalid_url(method, path)

    def authenticate(self, request: Request) -> None:
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

    def fault_error(self, fault: Fault) -> EmulatedError:
        error = errors.http_error_for_status(fault.status, fault.code, fault.message, fault.error_type)
        if fault.retry_after is not None:
            error.headers["retry-after"] = format_seconds(fault.retry_after)
        return error

    def too_large_error(self) -> EmulatedError:
        return ApiError(413, "Request body too large.")

    def internal_error(self) -> EmulatedError:
        return errors.http_error_for_status(500)

    def finish_headers(self, response: Response, started: float) -> None:
        response.headers["x-request-id"] = "req_" + secrets.token_hex(16)
        response.headers["openai-version"] = "2020-10-01"
        response.headers["openai-processing-ms"] = str(int((time.monotonic() - started) * 1000))

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
        fields, files = read_body(request)
        params = validate_create(fields, files, self.server.config.models)
        state = self.server._state
        now = self._now()
        with state.lock:
            scenario = state.scenarios.take(params["prompt"])
            _raise_if_rejected(scenario)
            record = self._new_record(params, scenario, now)
            state.created_count += 1
        self.server._webhook_scheduler.poke()
        return json_response(self._video(record, now))

    def _remix(self, request: Request, video_id: str | None, _fault: Fault | None) -> Response:
        fields, files = read_body(request)
        for name in [*fields, *files]:
            if name != "prompt":
                raise errors.unknown_parameter(name)
        prompt = validate_prompt(fields.get("prompt", MISSING))
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
            scenario = state.scenarios.take(prompt)
            _raise_if_rejected(scenario)
            params = {"prompt": prompt, "model": source.model, "size": source.size, "seconds": source.seconds}
            record = self._new_record(params, scenario, now, remixed_from=source.id)
            state.remix_count += 1
        self.server._webhook_scheduler.poke()
        return json_response(self._video(record, now))

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
        response = json_response(body)
        if body["status"] in NOT_READY_STATUSES:
            response.headers["openai-poll-after-ms"] = str(self.server.config.poll_after_ms)
        return response

    def _list(self, request: Request, _video_id: str | None, _fault: Fault | None) -> Response:
        limit = parse_limit(request.args.get("limit"), self.server.config.max_list_limit)
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
        return json_response(
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
        return json_response({"id": record.id, "object": "video.deleted", "deleted": True})

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
            chunks = cut_after(chunks, fault.reset_after_bytes, request.environ)
        body = stop_aware(chunks, self.server.stopping.is_set, request.environ)
        response = Response(body, 200, mimetype=media.VARIANTS[variant].content_type, direct_passthrough=True)
        response.headers["Content-Length"] = str(length)
        return response


def _raise_if_rejected(scenario: Scenario) -> None:
    if scenario.rejects:
        raise ApiError(scenario.reject_status, scenario.rejection_message(), code=scenario.reject_code)


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]
