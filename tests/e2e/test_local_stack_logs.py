"""What `make local` shows: the banner and the tokens stay in view (the functions' routine INFO lines appear only
with --verbose), and each function's lines carry its own name. Time is manual and the sweep is run by hand."""

from __future__ import annotations

import errno
import importlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from local.backend_clock import ManualClock
from local.emulator import ManualClock as EmulatorClock
from local.stack import LocalStack, port_taken_message, stack_parameters
from tests.function_logs import captured_function_logs

# Imported before any stack starts, as in a Lambda process: their loggers are children of this process's function
# logger (whose service name was fixed at its first import), not of the stack's POWERTOOLS_SERVICE_NAME.
importlib.import_module("sorajobs.logic.jobs")
importlib.import_module("sorajobs.logic.sweep")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _stack(*, verbose: bool) -> LocalStack:
    return LocalStack(
        backend_clock=ManualClock(START),
        emulator_clock=EmulatorClock(start=START.timestamp()),
        parameters=stack_parameters([], verbose=verbose),
        background=False,
        provider_webhooks=False,
    )


def _sweep_and_submit(stack: LocalStack) -> None:
    stack.scheduler.run_once()
    headers = {"Authorization": f"Bearer {stack.mint_token('logs-user', ['users'])}"}
    response = httpx.post(f"{stack.gateway_url}/videos", json={"prompt": "A heron"}, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    stack.scheduler.run_once()


def test_make_local_writes_no_routine_log_line_by_default():
    with _stack(verbose=False) as stack, captured_function_logs() as logs:
        _sweep_and_submit(stack)

    assert logs.lines == []


def test_verbose_shows_every_functions_lines_each_under_its_own_name():
    with _stack(verbose=True) as stack, captured_function_logs() as logs:
        _sweep_and_submit(stack)

    sweeps = logs.with_message("Sweep finished")
    [submitted] = logs.with_message("Generation submitted")
    assert len(sweeps) == 2
    assert {line["function_name"] for line in sweeps} == {"sora-jobs-local-PollSoraStatusFunction"}
    assert [line["cold_start"] for line in sweeps] == [True, False]
    assert submitted["function_name"] == "sora-jobs-local-SubmitFunction"


def test_a_log_level_named_on_the_command_line_wins_over_quiet():
    assert stack_parameters([], verbose=False)["LogLevel"] == "WARN"
    assert "LogLevel" not in stack_parameters([], verbose=True)
    assert stack_parameters(["LogLevel=DEBUG", "PollMinSeconds=2"], verbose=False) == {
        "LogLevel": "DEBUG",
        "PollMinSeconds": "2",
    }


def test_make_local_passes_port_and_verbose_to_the_stack():
    def command(*variables: str) -> str:
        lines = subprocess.run(
            ["make", "--no-print-directory", "-n", "local", *variables],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        return lines[-1]

    assert command("PORT=3001", "VERBOSE=1").endswith("-m local.stack --port 3001 --verbose")
    assert command().endswith("-m local.stack --port 3000")


def test_a_taken_port_names_the_make_variable_that_chooses_another():
    message = port_taken_message(OSError(errno.EADDRINUSE, "Address already in use"), 3000)

    assert "port 3000 taken" in message and "make local PORT=3001" in message and "PORT=0" in message
