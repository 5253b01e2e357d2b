"""The ``/_emulator`` controls every emulator has: scripted scenarios, prompt rules, faults, the clock, the request
log, stats and reset. A provider's subclass adds its own routes (its resources, its webhooks) and its error body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from local.emulation.api import EmulatedError, error_response, json_response, read_json_object
from local.emulation.clock import Clock, ManualClock


class ControlledEmulator(Protocol):
    """The server as its controls see it. ``stats()`` has ``scripted_scenarios``, ``rules`` and ``faults``."""

    clock: Clock

    def script_next(self, scenario: Any) -> None: ...

    def add_rule(self, *, prompt_contains: str, scenario: Any) -> None: ...

    def clear_scenarios(self) -> None: ...

    def clear_rules(self) -> None: ...

    def inject(self, fault: Any) -> None: ...

    def clear_faults(self) -> None: ...

    def reset(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    @property
    def request_log(self) -> list[tuple[str, str, int]]: ...


class ControlApi:
    """Routes ``/_emulator/...``; ``ValueError``/``TypeError`` from building a scenario or fault answer 400."""

    def __init__(
        self,
        emulator: ControlledEmulator,
        *,
        scenario_from_json: Callable[[dict[str, Any]], Any],
        fault_from_json: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.emulator = emulator
        self._scenario_from_json = scenario_from_json
        self._fault_from_json = fault_from_json

    # -- what a provider supplies ---------------------------------------------------------------------

    def error(self, status: int, message: str, *, param: str | None = None) -> EmulatedError:
        """An error in the provider's body (``param``: the field at fault, where the body names one)."""
        raise NotImplementedError

    def not_found(self, request: Request) -> EmulatedError:
        return self.error(404, f"Invalid URL ({request.method} {request.path})")

    def read_json(self, request: Request) -> dict[str, Any]:
        """The JSON object of a control's body ({} when empty)."""
        return read_json_object(request, self.error)

    def route_more(self, request: Request) -> Response | None:
        """The provider's own controls; None when the path is not one of them."""
        return None

    # -- the shared controls ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except EmulatedError as error:
            return error_response(error)
        except (ValueError, TypeError) as error:
            return error_response(self.error(400, str(error)))

    def _route(self, request: Request) -> Response:
        emulator = self.emulator
        path, method = request.path, request.method
        if path == "/_emulator/scenario" and method == "POST":
            emulator.script_next(self._scenario_from_json(self.read_json(request)))
            return json_response({"scripted": emulator.stats()["scripted_scenarios"]})
        if path == "/_emulator/scenario" and method == "DELETE":
            emulator.clear_scenarios()
            return json_response({"scripted": 0})
        if path == "/_emulator/rules" and method == "POST":
            body = self.read_json(request)
            unknown = sorted(set(body) - {"prompt_contains", "scenario"})
            valid = isinstance(body.get("prompt_contains"), str) and isinstance(body.get("scenario"), dict)
            if unknown or not valid:
                raise self.error(400, 'Expected {"prompt_contains": str, "scenario": {...}}.')
            scenario = self._scenario_from_json(body["scenario"])
            emulator.add_rule(prompt_contains=body["prompt_contains"], scenario=scenario)
            return json_response({"rules": emulator.stats()["rules"]})
        if path == "/_emulator/rules" and method == "DELETE":
            emulator.clear_rules()
            return json_response({"rules": []})
        if path == "/_emulator/faults" and method == "POST":
            emulator.inject(self._fault_from_json(self.read_json(request)))
            return json_response({"faults": emulator.stats()["faults"]})
        if path == "/_emulator/faults" and method == "GET":
            return json_response({"faults": emulator.stats()["faults"]})
        if path == "/_emulator/faults" and method == "DELETE":
            emulator.clear_faults()
            return json_response({"faults": []})
        if path == "/_emulator/clock/advance" and method == "POST":
            return self._advance_clock(request)
        if path == "/_emulator/stats" and method == "GET":
            return json_response(emulator.stats())
        if path == "/_emulator/requests" and method == "GET":
            return json_response({"requests": [list(entry) for entry in emulator.request_log]})
        if path == "/_emulator/reset" and method == "POST":
            emulator.reset()
            return json_response(emulator.stats())
        response = self.route_more(request)
        if response is None:
            raise self.not_found(request)
        return response

    def _advance_clock(self, request: Request) -> Response:
        clock = self.emulator.clock
        if not isinstance(clock, ManualClock):
            raise self.error(409, "The emulator runs on the system clock; only a ManualClock can be advanced.")
        seconds = self.read_json(request).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise self.error(400, 'Expected {"seconds": n} with n >= 0.', param="seconds")
        return json_response({"now": clock.advance(seconds)})
