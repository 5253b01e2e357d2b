"""The /_emulator controls, the command line, and the SDK's own polling helper on the manual clock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import runwayml
import runwayml.lib.polling
from runwayml import RunwayML
from runwayml.lib.polling import TaskFailedError

from local.runway_emulator import EmulatorServer, ManualClock, Scenario

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def controls(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.root_url + "/_emulator") as raw:
        yield raw


def create_task(client: RunwayML, prompt: str = "p") -> str:
    return client.text_to_video.create(model="gen4.5", prompt_text=prompt, ratio="1280:720", duration=5).id


def test_scenarios_rules_and_faults_can_be_set_over_http(
    controls: httpx.Client, client: RunwayML, server: EmulatorServer
) -> None:
    assert controls.post("/scenario", json={"outcome": "failed", "failure_code": "ASSET.INVALID"}).json() == {
        "scripted": 1
    }
    controls.post("/rules", json={"prompt_contains": "slow", "scenario": {"throttled_seconds": 100}})
    faults = controls.post("/faults", json={"operation": "organization", "status": 429, "times": 1}).json()

    failing = create_task(client)
    slow = create_task(client, "a slow one")
    controls.post("/clock/advance", json={"seconds": 50})

    assert faults["faults"][0]["remaining"] == 1
    assert client.tasks.retrieve(failing).failure_code == "ASSET.INVALID"  # type: ignore[union-attr]
    assert client.tasks.retrieve(slow).status == "THROTTLED"
    assert controls.get(f"/tasks/{slow}").json()["throttled_seconds"] == 100
    assert controls.get("/tasks/nope").status_code == 404
    assert controls.post("/faults", json={"operation": "remix"}).status_code == 400
    assert controls.post("/scenario", json={"outcome": "exploded"}).status_code == 400


def test_stats_requests_and_reset(controls: httpx.Client, client: RunwayML, server: EmulatorServer) -> None:
    task_id = create_task(client)
    client.tasks.retrieve(task_id)

    stats = controls.get("/stats").json()
    requests = controls.get("/requests").json()["requests"]
    after_reset = controls.post("/reset").json()

    assert stats["created_count"] == 1 and stats["tasks"] == 1 and stats["manual_clock"] is True
    assert stats["credits_spent"] == 60
    assert requests == [["POST", "/v1/text_to_video", 200], ["GET", f"/v1/tasks/{task_id}", 200]]
    assert after_reset["created_count"] == 0 and after_reset["requests"] == 0
    assert server.task_ids() == []


def test_the_sdk_waits_for_the_task_output_on_the_manual_clock(
    client: RunwayML, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK polls every 6 s (±1.5) with time.sleep: let its sleeps move the emulator's clock instead.
    monkeypatch.setattr(runwayml.lib.polling, "time", SimpleNamespace(sleep=clock.advance, time=clock.now))
    created = client.text_to_video.create(model="gen4.5", prompt_text="p", ratio="1280:720", duration=5)

    done = created.wait_for_task_output()  # type: ignore[attr-defined]

    assert done.status == "SUCCEEDED"
    assert httpx.get(done.output[0]).status_code == 200


def test_the_sdk_wait_raises_task_failed_on_a_failure(
    client: RunwayML, server: EmulatorServer, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runwayml.lib.polling, "time", SimpleNamespace(sleep=clock.advance, time=clock.now))
    server.script_next(Scenario.safety_failure("SAFETY.INPUT.IMAGE"))
    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image="https://example.com/a.png", ratio="1280:720"
    )

    with pytest.raises(TaskFailedError) as caught:
        created.wait_for_task_output()  # type: ignore[attr-defined]

    assert caught.value.task_details.failure_code == "SAFETY.INPUT.IMAGE"  # type: ignore[union-attr]


def test_the_command_line_prints_its_base_url_and_serves_until_terminated() -> None:
    command = ["-m", "local.runway_emulator", "--port", "0", "--api-key", "key_cli", "--manual-clock", "--quiet"]
    with subprocess.Popen([sys.executable, *command], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        try:
            with RunwayML(api_key="key_cli", base_url=base_url, max_retries=0) as sdk:
                created = sdk.text_to_video.create(model="veo3.1_fast", prompt_text="p", ratio="720:1280")
                httpx.post(base_url + "/_emulator/clock/advance", json={"seconds": 60})
                finished = sdk.tasks.retrieve(created.id)
        finally:
            process.terminate()
            process.communicate(timeout=10)

    assert base_url.startswith("http://127.0.0.1:")  # the root: the SDK's paths start with /v1
    assert finished.status == "SUCCEEDED"
    assert process.returncode == 0


def test_stop_then_start_simulates_an_outage_on_the_same_url(client: RunwayML, server: EmulatorServer) -> None:
    task_id = create_task(client)
    base_url = server.base_url

    server.stop()
    with pytest.raises(runwayml.APIConnectionError):
        client.tasks.retrieve(task_id)
    server.start()

    assert server.base_url == base_url
    assert client.tasks.retrieve(task_id).id == task_id
