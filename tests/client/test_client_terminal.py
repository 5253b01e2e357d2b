"""The `sora-jobs` tool as a person and a script meet it: in a pseudo-terminal (pexpect) its live display
advances and Ctrl-C asks whether to detach or cancel; with stdout piped it prints one JSON document.

The stack runs in the background on real time (the tool is another process), with renders of a few seconds:
each test waits only as long as a local job takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pexpect
import pytest

from local.emulator import EmulatorConfig
from local.stack import LocalStack
from sorajobs_client import SoraJobs
from sorajobs_client.cli import EXIT_CANCELLED, EXIT_DETACHED, EXIT_OK
from tests.client.helpers import child_environment

pytestmark = pytest.mark.e2e

OWNER = "terminal-user"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=1, render_seconds=6),
        parameters={"StatusMinRefreshSeconds": "1", "LogLevel": "WARN"},
        schedule_interval_seconds=1,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[SoraJobs]:
    with SoraJobs(stack.gateway_url, stack.mint_token(OWNER)) as client:
        yield client


def spawn(stack: LocalStack, *args: str) -> pexpect.spawn:
    environment = child_environment(stack.gateway_url, stack.mint_token(OWNER))
    return pexpect.spawn(
        sys.executable,
        ["-m", "sorajobs_client", *args],
        env=environment,
        encoding="utf-8",
        timeout=30,
        dimensions=(30, 100),
    )


def watch_the_display_advance(child: pexpect.spawn) -> str:
    """Reads the live display until its progress and its clock have both moved; returns the job id."""
    child.expect(r"Submitted (job_[0-9a-f]+)")
    job_id = str(child.match.group(1))
    child.expect(r"in_progress\S*\s.*? +(\d+)%")
    first = int(child.match.group(1))
    while True:
        child.expect(r"in_progress\S*\s.*? +(\d+)%")
        if int(child.match.group(1)) > first:
            break
    child.expect(r"elapsed 0:0[2-9]")
    return job_id


def test_ctrl_c_during_the_live_display_can_detach_and_the_job_goes_on(stack, api):
    child = spawn(stack, "submit", "A paper boat drifting down a rainy street", "--provider", "runway", "--wait")

    job_id = watch_the_display_advance(child)
    child.sendintr()
    child.expect(r"\[d\]etach .* or \[c\]ancel the job\?")
    child.sendline("d")
    child.expect(f"Detached: {job_id} goes on")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == EXIT_DETACHED
    assert api.wait(job_id, timeout=30).status == "completed"


def test_ctrl_c_during_the_live_display_can_cancel_the_job(stack, api):
    child = spawn(stack, "submit", "A heron in the reeds", "--provider", "runway", "--wait")

    job_id = watch_the_display_advance(child)
    child.sendintr()
    child.expect(r"\[d\]etach")
    child.sendline("c")
    child.expect(f"cancelled.* {job_id}")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == EXIT_CANCELLED
    job = api.retrieve(job_id)
    assert job.status == "cancelled" and job.error is not None and job.error.category == "cancelled"


def test_the_display_names_status_provider_queue_elapsed_eta_and_cost(stack):
    child = spawn(stack, "submit", "A lighthouse at dawn", "--provider", "fal", "--wait")

    child.expect(r"fal · fal-ai/\S+ · \d+ s · \d+x\d+")
    child.expect(r"elapsed 0:\d\d.*cost \$\d+\.\d\d")
    child.expect(r"completed")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == EXIT_OK


def test_off_a_terminal_submit_wait_prints_exactly_one_json_document(stack, tmp_path):
    environment = child_environment(stack.gateway_url, stack.mint_token(OWNER))
    video = tmp_path / "boat.mp4"

    finished = subprocess.run(
        [sys.executable, "-m", "sorajobs_client", "submit", "A paper boat", "--save", str(video)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == EXIT_OK, finished.stderr
    document = json.loads(finished.stdout)  # the whole of stdout is one document
    assert document["status"] == "completed" and document["download"]["path"] == str(video)
    assert document["download"]["sha256"] == document["video"]["sha256"]
    assert video.stat().st_size == document["video"]["bytes"]
