"""The /_emulator/ HTTP controls and the command-line entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from local.emulator import EmulatorServer, ManualClock

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def controls(server: EmulatorServer) -> Iterator[httpx.Client]:
    """No Authorization header: the controls need none."""
    with httpx.Client(base_url=server.root_url + "/_emulator") as raw:
        yield raw


def test_script_next_scenario_over_http(controls: httpx.Client, client: OpenAI) -> None:
    response = controls.post("/scenario", json={"outcome": "failed", "fail_code": "boom", "queue_seconds": 0})
    assert response.status_code == 200
    assert response.json() == {"scripted": 1}

    video = client.videos.create(prompt="p")
    controls.post("/clock/advance", json={"seconds": 60})

    assert client.videos.retrieve(video.id).error.code == "boom"  # type: ignore[union-attr]


def test_rules_over_http(controls: httpx.Client, client: OpenAI) -> None:
    response = controls.post("/rules", json={"prompt_contains": "nope", "scenario": {"reject_code": "sentinel_block"}})
    assert response.status_code == 200

    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="nope nope")
    assert caught.value.code == "sentinel_block"

    controls.delete("/rules")
    assert client.videos.create(prompt="nope nope").status == "queued"


def test_faults_over_http(controls: httpx.Client, client: OpenAI, server: EmulatorServer) -> None:
    response = controls.post("/faults", json={"operation": "create", "status": 429, "retry_after": 3, "times": 1})
    assert response.json()["faults"][0]["remaining"] == 1

    with pytest.raises(openai.RateLimitError):
        client.videos.create(prompt="p")
    controls.post("/faults", json={"operation": "create", "status": 500})
    controls.delete("/faults")

    assert client.videos.create(prompt="p").status == "queued"
    assert controls.get("/faults").json() == {"faults": []}
    assert server.created_count == 1


def test_clock_advance_and_video_state_over_http(controls: httpx.Client, client: OpenAI, clock: ManualClock) -> None:
    video = client.videos.create(prompt="p")

    advanced = controls.post("/clock/advance", json={"seconds": 12})
    state = controls.get(f"/videos/{video.id}").json()

    assert advanced.json() == {"now": 1_800_000_012.0} and clock.now() == 1_800_000_012.0
    assert state["status"] == "completed"
    assert len(state["content_sha256"]) == 64
    assert controls.get("/videos/video_nope").status_code == 404


def test_stats_and_request_log_over_http(controls: httpx.Client, client: OpenAI) -> None:
    client.videos.create(prompt="p")
    client.videos.list()

    stats = controls.get("/stats").json()
    requests = controls.get("/requests").json()["requests"]

    assert stats["created_count"] == 1 and stats["videos"] == 1 and stats["manual_clock"] is True
    assert requests == [["POST", "/v1/videos", 200], ["GET", "/v1/videos", 200]]


def test_reset_over_http(controls: httpx.Client, client: OpenAI, server: EmulatorServer) -> None:
    client.videos.create(prompt="p")

    controls.post("/reset")

    assert server.created_count == 0
    assert server.request_log == []
    assert client.videos.list().data == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/scenario", {"outcome": "exploded"}),
        ("/scenario", {"colour": "red"}),
        ("/faults", {"kind": "explode"}),
        ("/rules", {"scenario": {}}),
        ("/clock/advance", {"seconds": -1}),
    ],
)
def test_invalid_control_requests_are_400(controls: httpx.Client, path: str, body: dict[str, object]) -> None:
    response = controls.post(path, json=body)

    assert response.status_code == 400
    assert "error" in response.json()


def test_clock_advance_needs_a_manual_clock() -> None:
    with EmulatorServer() as server:
        response = httpx.post(server.root_url + "/_emulator/clock/advance", json={"seconds": 1})

    assert response.status_code == 409


def test_module_entry_point_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", "0", "--api-key", "sk-cli", "--quiet"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with OpenAI(base_url=base_url, api_key="sk-cli", max_retries=0) as sdk:
            assert sdk.videos.create(prompt="from the cli").status == "queued"
    finally:
        process.terminate()
        process.communicate(timeout=10)

    assert process.returncode == 0


def test_stop_then_start_simulates_an_outage_on_the_same_url(client: OpenAI, server: EmulatorServer) -> None:
    video = client.videos.create(prompt="p")
    base_url = server.base_url

    server.stop()
    server.stop()  # idempotent
    with pytest.raises(openai.APIConnectionError):
        client.videos.retrieve(video.id)
    server.start()

    assert server.base_url == base_url
    assert client.videos.retrieve(video.id).id == video.id
