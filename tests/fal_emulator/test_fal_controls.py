"""The /_emulator controls over HTTP, and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from local.fal_emulator import FalEmulatorServer, ManualClock
from local.fal_emulator.__main__ import parse_args
from tests.fal_emulator.conftest import PROCESSING_SECONDS, QUEUE_SECONDS, VEO3, submit


def test_scenarios_rules_and_faults_over_http(server: FalEmulatorServer, http: httpx.Client) -> None:
    controls = httpx.Client(base_url=server.root_url + "/_emulator")
    assert controls.post("/scenario", json={"outcome": "failed", "error_type": "internal_server_error"}).json() == {
        "scripted": 1
    }
    assert controls.post("/scenario", json={"outcome": "exploded"}).status_code == 400
    rules = controls.post("/rules", json={"prompt_contains": "slow", "scenario": {"processing_seconds": 99}}).json()
    assert rules["rules"][0]["scenario"]["processing_seconds"] == 99
    faults = controls.post("/faults", json={"operation": "result", "status": 503, "times": 2}).json()
    assert faults["faults"][0]["remaining"] == 2
    assert controls.post("/faults", json={"operation": "remix"}).status_code == 400

    failing = submit(http)
    slow = submit(http, VEO3, prompt="a slow pan")
    assert controls.get(f"/requests/{failing['request_id']}").json()["scenario"]["outcome"] == "failed"
    assert controls.get(f"/requests/{slow['request_id']}").json()["scenario"]["processing_seconds"] == 99
    assert controls.get("/requests/nope").status_code == 404


def test_clock_concurrency_stats_and_reset(server: FalEmulatorServer, http: httpx.Client, clock: ManualClock) -> None:
    controls = httpx.Client(base_url=server.root_url + "/_emulator")
    requests = [submit(http, VEO3, prompt=f"shot {index}") for index in range(3)]
    assert controls.post("/clock/advance", json={"seconds": QUEUE_SECONDS}).json() == {"now": clock.now()}
    stats = controls.get("/stats").json()
    assert (stats["submitted_count"], stats["in_progress"], stats["in_queue"], stats["concurrency"]) == (3, 2, 1, 2)
    assert controls.post("/concurrency", json={"concurrency": 3}).json() == {"concurrency": 3}
    assert http.get(requests[2]["status_url"]).json()["status"] == "IN_PROGRESS"
    assert controls.post("/concurrency", json={"concurrency": 0}).status_code == 400

    clock.advance(PROCESSING_SECONDS)
    assert controls.get("/stats").json()["completed"] == 3
    assert controls.get("/webhooks").json() == []
    assert len(controls.get("/requests").json()["requests"]) == 4  # 3 submits, 1 status (controls not logged)
    reset = controls.post("/reset").json()
    assert (reset["submitted_count"], reset["completed"], reset["concurrency"]) == (0, 0, 2)
    assert http.get(requests[0]["status_url"]).status_code == 404


def test_the_command_line() -> None:
    args = parse_args(["--port", "0", "--api-key", "a:b", "--manual-clock", "--concurrency", "4"])
    assert (args.port, args.api_key, args.manual_clock, args.concurrency) == (0, "a:b", True, 4)
    defaults = parse_args([])
    assert (defaults.port, defaults.concurrency, defaults.api_key) == (8766, 2, None)


def test_python_m_prints_its_base_url_and_serves() -> None:
    command = [sys.executable, "-m", "local.fal_emulator", "--port", "0", "--quiet", "--manual-clock"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ
    ) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            response = httpx.post(f"{base_url}/{VEO3}", json={"prompt": "x"}, headers={"Authorization": "Key a:b"})
            assert response.json()["status"] == "IN_QUEUE"
            assert httpx.get(f"{base_url}/.well-known/jwks.json").json()["keys"]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
