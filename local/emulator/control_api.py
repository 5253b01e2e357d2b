"""The emulator's own controls under /_emulator: the shared ones (scenarios, rules, faults, the clock, stats) and
the Videos API's (a video's state, webhooks), answering errors in the OpenAI envelope."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from local.emulation import control_api
from local.emulation.api import EmulatedError, json_response
from local.emulator import errors
from local.emulator.errors import ApiError
from local.emulator.faults import Fault
from local.emulator.host import EmulatorHost
from local.emulator.requests import json_object
from local.emulator.scenarios import Scenario

_CONTROL_VIDEO_ROUTE = re.compile(r"^/_emulator/videos/(?P<video_id>[^/]+)$")


class ControlApi(control_api.ControlApi):
    def __init__(self, server: EmulatorHost) -> None:
        super().__init__(server, scenario_from_json=Scenario.from_dict, fault_from_json=Fault.from_dict)
        self.server = server

    def error(self, status: int, message: str, *, param: str | None = None) -> EmulatedError:
        return ApiError(status, message, param=param)

    def not_found(self, request: Request) -> EmulatedError:
        return errors.invalid_url(request.method, request.path)

    def read_json(self, request: Request) -> dict[str, Any]:
        return json_object(request)

    def route_more(self, request: Request) -> Response | None:
        path, method = request.path, request.method
        if path == "/_emulator/webhooks" and method == "GET":
            return json_response(self.server.webhook_log())
        if path == "/_emulator/webhooks/config" and method == "POST":
            return self._configure_webhooks(request)
        match = _CONTROL_VIDEO_ROUTE.match(path)
        if match and method == "GET":
            try:
                return json_response(self.server.video(match["video_id"]))
            except KeyError:
                raise errors.video_not_found(match["video_id"]) from None
        return None

    def _configure_webhooks(self, request: Request) -> Response:
        body = json_object(request)
        unknown = sorted(set(body) - {"url", "secret"})
        url, secret = body.get("url"), body.get("secret")
        if unknown or not all(value is None or isinstance(value, str) for value in (url, secret)):
            raise ApiError(400, 'Expected {"url": str | null, "secret": "whsec_..." | null}.')
        self.server.configure_webhooks(url, secret)
        return json_response({"url": url, "enabled": url is not None and secret is not None})
