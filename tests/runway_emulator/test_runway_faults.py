"""Injected faults, as the runwayml SDK sees them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from local.runway_emulator import EmulatorServer, Fault, Scenario
from tests.runway_emulator.support import API_KEY


def create_task(client: RunwayML) -> str:
    return client.text_to_video.create(model="gen4.5", prompt_text="p", ratio="1280:720", duration=5).id


def test_429_with_retry_after_surfaces_as_rate_limit_error(client: RunwayML, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", status=429, retry_after=7))

    with pytest.raises(runwayml.RateLimitError) as caught:
        create_task(client)

    assert caught.value.response.headers["retry-after"] == "7"
    assert set(caught.value.body) == {"error"}  # type: ignore[arg-type]
    assert server.created_count == 0
    assert server.request_log == [("POST", "/v1/text_to_video", 429)]


def test_the_sdk_retries_an_injected_429_and_creates_once(server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", status=429, retry_after=0.01, times=1))

    with RunwayML(api_key=API_KEY, base_url=server.base_url, max_retries=2) as retrying:
        create_task(retrying)

    assert [status for _, _, status in server.request_log] == [429, 200]
    assert server.created_count == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_are_internal_server_errors(client: RunwayML, server: EmulatorServer, status: int) -> None:
    task_id = create_task(client)
    server.inject(Fault(operation="retrieve", status=status))

    with pytest.raises(runwayml.InternalServerError) as caught:
        client.tasks.retrieve(task_id)

    assert caught.value.status_code == status


def test_faults_hit_only_their_operation(client: RunwayML, server: EmulatorServer) -> None:
    server.inject(Fault(operation="organization", status=503))
    task_id = create_task(client)

    with pytest.raises(runwayml.InternalServerError):
        client.organization.retrieve()
    client.tasks.delete(task_id)

    assert server.faults()[0]["fired"] == 1


def test_a_cancel_fault_leaves_the_task_running(client: RunwayML, server: EmulatorServer) -> None:
    task_id = create_task(client)
    server.inject(Fault(operation="cancel", status=502, times=1))

    with pytest.raises(runwayml.InternalServerError):
        client.tasks.delete(task_id)

    assert client.tasks.retrieve(task_id).status == "PENDING"


def test_a_timeout_on_create_loses_the_answer_but_the_task_exists(client: RunwayML, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", kind="timeout", latency_ms=800, times=1))

    with pytest.raises(runwayml.APITimeoutError):
        client.with_options(timeout=0.2).text_to_video.create(
            model="gen4.5", prompt_text="p", ratio="1280:720", duration=5
        )

    assert server.created_count == 1


def test_a_reset_on_create_drops_the_connection_after_creating(client: RunwayML, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", kind="reset", times=1))

    with pytest.raises(runwayml.APIConnectionError):
        create_task(client)

    assert server.created_count == 1
    assert server.request_log == [("POST", "/v1/text_to_video", 0)]


def test_a_reset_mid_download_cuts_the_body(
    client: RunwayML, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    server.script_next(Scenario(video_bytes=2 * 1024 * 1024))
    task_id = create_task(client)
    finish()
    url = client.tasks.retrieve(task_id).output[0]  # type: ignore[union-attr]
    server.inject(Fault(operation="download", kind="reset", reset_after_bytes=1000, times=1))

    received = 0
    with pytest.raises(httpx.TransportError), httpx.stream("GET", url) as response:
        assert response.headers["content-length"] == str(2 * 1024 * 1024)
        for chunk in response.iter_bytes():
            received += len(chunk)

    assert received <= 1000
    assert len(httpx.get(url).content) == 2 * 1024 * 1024


def test_latency_delays_but_answers(client: RunwayML, server: EmulatorServer) -> None:
    server.inject(Fault(operation="organization", kind="latency", latency_ms=50, times=1))

    assert client.organization.retrieve().credit_balance == server.config.credit_balance


@pytest.mark.parametrize("operation", ["remix", "list", "delete"])
def test_faults_name_runway_operations_only(operation: str) -> None:
    with pytest.raises(ValueError):
        Fault(operation=operation)
