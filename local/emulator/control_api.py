"""The emulator's own controls under /_emulator: scripted scenarios, rules, faults, the clock, webhooks, stats."""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from local.emulator import errors
from local.emulator.clock import ManualClock
from local.emulator.errors import ApiError
from local.emulator.faults import Fault
from local.emulator.host import EmulatorHost
from local.emulator.requests import error_response, json_object, json_response
from local.emulator.scenarios import Scenario

_CONTROL_VIDEO_ROUTE = re.compile(r"^/_emulator/videos/(?P<video_id>[^/]+)$")


class ControlApi:
    def __init__(self, server: EmulatorHost) -> None:
        self.server = server

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except ApiError as error:
            return error_response(error)
        except (ValueError, TypeError) as error:
            return error_response(ApiError(400, str(error)))

    def _route(self, request: Request) -> Response:
        server = self.server
        path, method = request.path, request.method
        if path == "/_emulator/scenario" and method == "POST":
            server.script_next(Scenario.from_dict(json_object(request)))
            return json_response({"scripted": server.stats()["scripted_scenarios"]})
        if path == "/_emulator/scenario" and method == "DELETE":
            server.clear_scenarios()
            return json_response({"scripted": 0})
        if path == "/_emulator/rules" and method == "POST":
            body = json_object(request)
            unknown = sorted(set(body) - {"prompt_contains", "scenario"})
            valid = isinstance(body.get("prompt_contains"), str) and isinstance(body.get("scenario"), dict)
            if unknown or not valid:
                raise ApiError(400, 'Expected {"prompt_contains": str, "scenario": {...}}.')
            server.add_rule(prompt_contains=body["prompt_contains"], scenario=Scenario.from_dict(body["scenario"]))
            return json_response({"rules": server.stats()["rules"]})
        if path == "/_emulator/rules" and method == "DELETE":
            server.clear_rules()
            return json_response({"rules": []})
        if path == "/_emulator/faults" and method == "POST":
            server.inject(Fault.from_dict(json_object(request)))
            return json_response({"faults": server.stats()["faults"]})
        if path == "/_emulator/faults" and method == "GET":
            return json_response({"faults": server.stats()["faults"]})
        if path == "/_emulator/faults" and method == "DELETE":
            server.clear_faults()
            return json_response({"faults": []})
        if path == "/_emulator/clock/advance" and method == "POST":
            return self._advance_clock(request)
        if path == "/_emulator/stats" and method == "GET":
            return json_response(server.stats())
        if path == "/_emulator/requests" and method == "GET":
            return json_response({"requests": [list(entry) for entry in server.request_log]})
        if path == "/_emulator/webhooks" and method == "GET":
            return json_response(server.webhook_log())
        if path == "/_emulator/webhooks/config" and method == "POST":
            return self._configure_webhooks(request)
        if path == "/_emulator/reset" and method == "POST":
            server.reset()
            return json_response(server.stats())
        match = _CONTROL_VIDEO_ROUTE.match(path)
        if match and method == "GET":
            try:
                return json_response(server.video(match["video_id"]))
            except KeyError:
                raise errors.video_not_found(match["video_id"]) from None
        raise errors.invalid_url(method, path)

    def _configure_webhooks(self, request: Request) -> Response:
        body = json_object(request)
        unknown = sorted(set(body) - {"url", "secret"})
        url, secret = body.get("url"), body.get("secret")
        if unknown or not all(value is None or isinstance(value, str) for value in (url, secret)):
            raise ApiError(400, 'Expected {"url": str | null, "secret": "whsec_..." | null}.')
        self.server.configure_webhooks(url, secret)
        return json_response({"url": url, "enabled": url is not None and secret is not None})

    def _advance_clock(self, request: Request) -> Response:
        clock = self.server.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(409, "The emulator runs on the system clock; only a ManualClock can be advanced.")
        seconds = json_object(request).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, 'Expected {"seconds": n} with n >= 0.', param="seconds")
        return json_response({"now": clock.advance(seconds)})
