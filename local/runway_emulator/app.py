"""The WSGI application: Runway's ``/v1`` task API, the signed output URLs it hands out, and the ``/_emulator/``
controls."""

from __future__ import annotations

import logging
import re
import secrets

from werkzeug.wrappers import Request, Response

from local.emulation import media
from local.emulation.api import EmulatedApi, EmulatedError, Route, format_seconds, json_response
from local.emulation.faults import Fault
from local.emulation.streaming import cut_after, stop_aware
from local.runway_emulator import errors
from local.runway_emulator.control_api import ControlApi
from local.runway_emulator.errors import RunwayError
from local.runway_emulator.host import RunwayHost
from local.runway_emulator.models import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, estimated_credits
from local.runway_emulator.state import TaskRecord, lifecycle, task_object
from local.runway_emulator.validation import parse_json_body, validate_create

log = logging.getLogger("local.runway_emulator")

CDN_PREFIX = "/cdn/"
_TASK_ROUTE = re.compile(r"^/v1/tasks/(?P<task_id>[^/]+)$")
_OUTPUT_ROUTE = re.compile(r"^/cdn/(?P<model>[^/]+)/(?P<task_id>[^/]+)/output\.mp4$")
# What a CloudFront-fronted bucket answers for a signed URL it no longer honours (the exact text is an assumption).
_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>'
)


class RunwayApp(EmulatedApi):
    """WSGI callable; all state lives on the server (a RunwayHost)."""

    def __init__(self, server: RunwayHost) -> None:
        super().__init__(server._faults, server._requests, server.stopping, controls=ControlApi(server), logger=log)
        self.server = server

    # -- plumbing -------------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> None:
        if request.path.startswith(CDN_PREFIX):
            return  # output URLs carry their own signature, like Runway's CDN links
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise errors.missing_api_key()
        expected = self.server.config.api_key
        if expected is not None and not secrets.compare_digest(key.encode(), expected.encode()):
            raise errors.invalid_api_key()
        version = request.headers.get("X-Runway-Version")
        if not version:
            raise errors.missing_version()
        if version not in self.server.config.api_versions:
            raise errors.invalid_version()

    def route(self, request: Request) -> Route:
        path, method = request.path, request.method
        creates = {"/v1/text_to_video": TEXT_TO_VIDEO, "/v1/image_to_video": IMAGE_TO_VIDEO}
        if path in creates:
            endpoint = creates[path]
            if method != "POST":
                raise errors.method_not_allowed()
            return Route("create", lambda req, _id, _fault: self._create(req, endpoint))
        if path == "/v1/organization":
            if method != "GET":
                raise errors.method_not_allowed()
            return Route("organization", self._organization)
        if match := _TASK_ROUTE.match(path):
            if method == "GET":
                return Route("retrieve", self._retrieve, match["task_id"])
            if method == "DELETE":
                return Route("cancel", self._cancel, match["task_id"])
            raise errors.method_not_allowed()
        if (match := _OUTPUT_ROUTE.match(path)) and method in ("GET", "HEAD"):
            return Route("download", self._download, match["task_id"])
        raise errors.not_found()

    def fault_error(self, fault: Fault) -> EmulatedError:
        error = errors.http_error_for_status(fault.status, fault.message)
        if fault.retry_after is not None:
            error.headers["Retry-After"] = format_seconds(fault.retry_after)
        return error

    def too_large_error(self) -> EmulatedError:
        return RunwayError(413, "Request body too large.")

    def internal_error(self) -> EmulatedError:
        return errors.http_error_for_status(500)

    def _now(self) -> float:
        return self.server.clock.now()

    # -- /v1 ------------------------------------------------------------------------------------------

    def _create(self, request: Request, endpoint: str) -> Response:
        spec, params = validate_create(endpoint, parse_json_body(request.get_data()))
        config, state = self.server.config, self.server._state
        now = self._now()
        with state.lock:
            prompt = params.get("promptText")
            scenario = state.scenarios.take(prompt if isinstance(prompt, str) else "")
            if scenario.rejects:
                raise RunwayError(scenario.reject_status or 400, scenario.reject_error or "The request was rejected.")
            estimate = estimated_credits(spec, params)
            if config.credit_balance - state.credits_spent(now) < estimate:
                raise errors.not_enough_credits()
            record = TaskRecord(
                id=state.new_task_id(),
                seq=state.next_seq(),
                endpoint=endpoint,
                model=spec.name,
                params=params,
                created=now,
                scenario=scenario,
                pending_seconds=_or(scenario.pending_seconds, config.pending_seconds),
                throttled_seconds=_or(scenario.throttled_seconds, config.throttled_seconds),
                running_seconds=_or(scenario.running_seconds, config.running_seconds),
                estimated_credits=estimate,
            )
            state.tasks[record.id] = record
            state.created_count += 1
        return json_response({"id": record.id, "estimatedCost": {"credits": estimate}})

    def _retrieve(self, request: Request, task_id: str | None, _fault: Fault | None) -> Response:
        now = self._now()
        with self.server._state.lock:
            record = self._visible(task_id, now)
            state = lifecycle(record, now)
            output = [self._output_url(request, record, now)] if state.status == "SUCCEEDED" else []
            return json_response(task_object(record, state, output))

    def _cancel(self, _request: Request, task_id: str | None, _fault: Fault | None) -> Response:
        now = self._now()
        with self.server._state.lock:
            record = self._visible(task_id, now)
            state = lifecycle(record, now)
            if state.active:
                record.cancelled_at, record.cancelled_from = now, state.status
            else:
                record.deleted_at = now
        return Response(status=204)

    def _organization(self, _request: Request, _id: str | None, _fault: Fault | None) -> Response:
        config, state = self.server.config, self.server._state
        now = self._now()
        daily = state.daily_generations(now)
        return json_response(
            {
                "creditBalance": max(0, config.credit_balance - state.credits_spent(now)),
                "tier": {
                    "maxMonthlyCreditSpend": config.max_monthly_credit_spend,
                    "models": {model: dict(limits) for model, limits in config.tier_models.items()},
                },
                "usage": {"models": {model: {"dailyGenerations": count} for model, count in sorted(daily.items())}},
            }
        )

    def _visible(self, task_id: str | None, now: float) -> TaskRecord:
        record = self.server._state.visible(task_id or "", now, self.server.config.cancelled_visible_seconds)
        if record is None:
            raise errors.task_not_found()
        return record

    # -- signed output URLs ---------------------------------------------------------------------------

    def _output_url(self, request: Request, record: TaskRecord, now: float) -> str:
        path = f"{CDN_PREFIX}{record.model}/{record.id}/output.mp4"
        token = self.server._signer.token(path, now, self.server.config.output_url_lifetime_seconds)
        return f"{request.host_url.rstrip('/')}{path}?_jwt={token}"

    def _download(self, request: Request, task_id: str | None, fault: Fault | None) -> Response:
        now = self._now()
        verdict = self.server._signer.verify(request.args.get("_jwt", ""), request.path, now)
        with self.server._state.lock:
            record = self.server._state.tasks.get(task_id or "")
            # Deleting a succeeded task does not take its output down at once: URLs handed out work until they expire.
            exists = record is not None and lifecycle(record, now).status == "SUCCEEDED"
            if verdict != "ok" or record is None or not exists:
                return Response(_ACCESS_DENIED, 403, mimetype="application/xml")
            record.downloads += 1
            video_bytes = record.scenario.video_bytes
        length = media.content_length("video", video_bytes)
        if request.method == "HEAD":
            response = Response(status=200, mimetype="video/mp4")
            response.headers["Content-Length"] = str(length)
            return response
        chunks = media.iter_content("video", video_bytes, record.id)
        if fault is not None and fault.kind == "reset":
            chunks = cut_after(chunks, fault.reset_after_bytes, request.environ)
        body = stop_aware(chunks, self.server.stopping.is_set, request.environ)
        response = Response(body, 200, mimetype="video/mp4", direct_passthrough=True)
        response.headers["Content-Length"] = str(length)
        return response


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
