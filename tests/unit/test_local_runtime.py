"""The local Lambda runtime runs the template's functions in one process, so it must keep apart what
Lambda's separate execution environments keep apart."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.lambda_runtime import LocalFunctions, context_carrying_pool, serves_http_api
from local.template import load_template
from sorajobs.observability import logger as function_logger
from tests.conftest import LambdaContext, load_event
from tests.function_logs import FunctionLogs, captured_function_logs


def test_powertools_resolvers_share_the_current_event_across_apps():
    """Why the HTTP API functions take turns: resolving on one app changes what another app sees."""
    submit_app, webhook_app = APIGatewayHttpResolver(), APIGatewayHttpResolver()
    submit_app.get("/videos/<job_id>")(lambda job_id: {"id": job_id})
    webhook_app.get("/videos/<job_id>")(lambda job_id: {"id": job_id})
    submit_event = load_event("sora_status")
    webhook_event = copy.deepcopy(submit_event)
    webhook_event["requestContext"].pop("authorizer", None)

    submit_app.resolve(submit_event, LambdaContext())
    webhook_app.resolve(webhook_event, LambdaContext())

    assert "authorizer" not in submit_app.current_event.raw_event["requestContext"]


def test_http_api_functions_take_turns_while_the_others_run_alongside():
    resources = load_template()["Resources"]
    functions = LocalFunctions()
    http_api = [name for name in functions.logical_ids() if serves_http_api(resources[name])]
    others = [name for name in functions.logical_ids() if name not in http_api]

    assert len(http_api) >= 6 and others
    assert len({id(functions[name].lock) for name in http_api}) == 1
    assert len({id(functions[name].lock) for name in [http_api[0], *others]}) == 1 + len(others)


@pytest.fixture
def function_logs() -> Iterator[FunctionLogs]:
    with captured_function_logs() as logs:
        yield logs


class _BlockedSweep:
    """A sweep that logs only once another function has run meanwhile (in Lambda, another process)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.may_log = threading.Event()

    def run(self, remaining_seconds: Any) -> SimpleNamespace:
        self.started.set()
        assert self.may_log.wait(30)
        function_logger.info("sweep probe")
        return SimpleNamespace(outcomes={}, passes=1, stopped_early=False)


def test_each_local_function_logs_under_its_own_name_while_another_runs(function_logs):
    sweep = _BlockedSweep()
    wiring = SimpleNamespace(sweeper=sweep, settings=SimpleNamespace(max_request_body_bytes=65536))
    functions = LocalFunctions(wiring=lambda: wiring)
    sweeping = threading.Thread(
        target=functions.invoke, args=("PollSoraStatusFunction", load_event("poll_sora_status"))
    )
    sweeping.start()
    assert sweep.started.wait(30)

    answer = functions.invoke("ReadApiFunction", load_event("read_api_openapi"))
    sweep.may_log.set()
    sweeping.join(30)

    assert answer["statusCode"] == 200
    [probe] = function_logs.with_message("sweep probe")
    assert probe["function_name"] == functions["PollSoraStatusFunction"].function_name
    assert probe["function_arn"].endswith(":function:sora-jobs-local-PollSoraStatusFunction")
    assert probe["cold_start"] is True and "correlation_id" not in probe


class _PoolSweep:
    """A sweep that logs from one of its worker threads, as the sweep polls jobs."""

    def run(self, remaining_seconds: Any) -> SimpleNamespace:
        with context_carrying_pool(2) as pool:
            pool.submit(function_logger.info, "worker probe").result()
        return SimpleNamespace(outcomes={}, passes=1, stopped_early=False)


def test_a_sweeps_worker_threads_log_under_the_sweeps_name_and_only_its_first_run_is_cold(function_logs):
    functions = LocalFunctions(wiring=lambda: SimpleNamespace(sweeper=_PoolSweep()))

    for _ in range(2):
        functions.invoke("PollSoraStatusFunction", load_event("poll_sora_status"))

    first, second = function_logs.with_message("worker probe")
    assert first["function_name"] == second["function_name"] == "sora-jobs-local-PollSoraStatusFunction"
    assert (first["cold_start"], second["cold_start"]) == (True, False)


def test_an_http_functions_logs_carry_its_request_id_as_correlation_id(function_logs):
    # Settings without the caller's fields: the route's dependency fails, and the 500 is logged.
    functions = LocalFunctions(wiring=lambda: SimpleNamespace(settings=SimpleNamespace(max_request_body_bytes=65536)))
    event = load_event("read_api_stats")

    answer = functions.invoke("ReadApiFunction", event)

    assert answer["statusCode"] == 500
    [line] = function_logs.with_message("Unhandled error")
    assert line["function_name"] == "sora-jobs-local-ReadApiFunction"
    assert line["correlation_id"] == event["requestContext"]["requestId"]
