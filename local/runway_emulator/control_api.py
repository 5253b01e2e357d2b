"""The emulator's own controls under /_emulator: the shared ones (scenarios, rules, faults, the clock, stats) and a
task's internal state, answering errors in Runway's body."""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from local.emulation import control_api
from local.emulation.api import EmulatedError, json_response
from local.runway_emulator import errors
from local.runway_emulator.errors import RunwayError
from local.runway_emulator.faults import Fault
from local.runway_emulator.host import RunwayHost
from local.runway_emulator.scenarios import Scenario

_CONTROL_TASK_ROUTE = re.compile(r"^/_emulator/tasks/(?P<task_id>[^/]+)$")


class ControlApi(control_api.ControlApi):
    def __init__(self, server: RunwayHost) -> None:
        super().__init__(server, scenario_from_json=Scenario.from_dict, fault_from_json=Fault.from_dict)
        self.server = server

    def error(self, status: int, message: str, *, param: str | None = None) -> EmulatedError:
        return RunwayError(status, message)

    def route_more(self, request: Request) -> Response | None:
        match = _CONTROL_TASK_ROUTE.match(request.path)
        if match and request.method == "GET":
            try:
                return json_response(self.server.task(match["task_id"]))
            except KeyError:
                raise errors.task_not_found() from None
        return None
