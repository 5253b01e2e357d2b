"""The emulator's own controls under /_emulator: the shared ones (scenarios, rules, faults, the clock, stats) and
the queue's (a request's state, the number of runners, the webhook log), answering errors as ``{"detail": ...}``."""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from local.emulation import control_api
from local.emulation.api import EmulatedError, json_response
from local.fal_emulator import errors
from local.fal_emulator.faults import Fault
from local.fal_emulator.host import FalEmulatorHost
from local.fal_emulator.scenarios import Scenario

_CONTROL_REQUEST_ROUTE = re.compile(r"^/_emulator/requests/(?P<request_id>[^/]+)$")


class FalControlApi(control_api.ControlApi):
    def __init__(self, server: FalEmulatorHost) -> None:
        super().__init__(server, scenario_from_json=Scenario.from_dict, fault_from_json=Fault.from_dict)
        self.server = server

    def error(self, status: int, message: str, *, param: str | None = None) -> EmulatedError:
        return errors.detail(status, message)

    def route_more(self, request: Request) -> Response | None:
        path, method = request.path, request.method
        if path == "/_emulator/webhooks" and method == "GET":
            return json_response(self.server.webhook_log())
        if path == "/_emulator/concurrency" and method == "POST":
            concurrency = self.read_json(request).get("concurrency")
            if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
                raise self.error(400, 'Expected {"concurrency": n} with n >= 1.')
            self.server.set_concurrency(concurrency)
            return json_response({"concurrency": concurrency})
        match = _CONTROL_REQUEST_ROUTE.match(path)
        if match and method == "GET":
            try:
                return json_response(self.server.request(match["request_id"]))
            except KeyError:
                raise errors.request_not_found() from None
        return None
