"""Injected faults, as the SDK sees them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx2
import openai
import pytest
from openai import OpenAI

from local.emulator import EmulatorConfig, EmulatorServer, Fault, ManualClock, Scenario


def test_429_with_retry_after_surfaces_as_rate_limit_error(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", kind="http_error", status=429, retry_after=7))

    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="p")

    error = caught.value
    assert error.response.headers["retry-after"] == "7"
    assert error.code == "rate_limit_exceeded"
    assert error.request_id is not None
    assert server.created_count == 0
    assert server.request_log == [("POST", "/v1/videos", 429)]


def test_fault_times_counts_down(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", status=429, times=2))

    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            client.videos.create(prompt="p")
    video = client.videos.create(prompt="p")

    assert video.status == "queued"
    assert server.created_count == 1


def test_a_fault_counts_how_often_it_fired(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", status=500, probability=0.5))
    server.inject(Fault(operation="retrieve", status=500))

    for _ in range(20):
        with contextlib.suppress(openai.InternalServerError):
            client.videos.create(prompt="p")

    create_fault, retrieve_fault = server.faults()
    failed_creates = sum(1 for _method, _path, status in server.request_log if status == 500)
    assert 0 < create_fault["fired"] == failed_creates < 20
    assert retrieve_fault["fired"] == 0


def test_sdk_retries_an_injected_429_and_creates_once(server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", status=429, retry_after=0.01, times=1))

    with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as retrying:
        retrying.videos.create(prompt="p")

    assert [status for _, _, status in server.request_log] == [429, 200]
    assert server.created_count == 1


def test_500_is_an_internal_server_error(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="retrieve", status=500))
    video = client.videos.create(prompt="p")

    with pytest.raises(openai.InternalServerError) as caught:
        client.videos.retrieve(video.id)

    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"


def test_faults_only_hit_their_operation_and_can_be_cleared(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="list", status=503))
    video = client.videos.create(prompt="p")

    with pytest.raises(openai.InternalServerError):
        client.videos.list()
    server.clear_faults()

    assert [v.id for v in client.videos.list()] == [video.id]


def test_any_operation_fault(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="any", status=502, times=1))

    with pytest.raises(openai.InternalServerError):
        client.videos.list()
    assert client.videos.list().data == []


def test_probability_is_seeded_and_deterministic(clock: ManualClock) -> None:
    def outcomes() -> list[int]:
        config = EmulatorConfig(api_key="k", seed=1234)
        with EmulatorServer(config, clock=clock) as server, OpenAI(base_url=server.base_url, api_key="k") as sdk:
            server.inject(Fault(operation="list", status=500, probability=0.5))
            for _ in range(20):
                with contextlib.suppress(openai.InternalServerError):
                    sdk.with_options(max_retries=0).videos.list()
            return [status for _, _, status in server.request_log]

    first = outcomes()

    assert first == outcomes()
    assert 0 < first.count(500) < 20


def test_reset_mid_body_breaks_the_streaming_download(
    client: OpenAI, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    server.script_next(Scenario(video_bytes=4 * 1024 * 1024))
    video = client.videos.create(prompt="p")
    finish()
    server.inject(Fault(operation="download", kind="reset", reset_after_bytes=1024 * 1024 + 17, times=1))

    received = 0
    with (
        pytest.raises(httpx2.TransportError),
        client.videos.with_streaming_response.download_content(video.id, variant="video") as response,
    ):
        assert response.headers["content-length"] == str(4 * 1024 * 1024)
        for chunk in response.iter_bytes(chunk_size=64 * 1024):
            received += len(chunk)

    assert 0 < received <= 1024 * 1024 + 17
    whole = client.videos.download_content(video.id).content  # the fault was used up
    assert len(whole) == 4 * 1024 * 1024


def test_reset_on_create_loses_the_response_but_the_video_exists(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", kind="reset", times=1))

    with pytest.raises(openai.APIConnectionError):
        client.videos.create(prompt="p")

    assert server.created_count == 1
    assert server.request_log == [("POST", "/v1/videos", 0)]
    assert len(client.videos.list().data) == 1


def test_timeout_fault_times_out_a_short_sdk_timeout(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="create", kind="timeout", latency_ms=800, times=1))

    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).videos.create(prompt="p")

    # The server did the work; only the response was late: the classic double-create trap.
    assert server.created_count == 1


def test_latency_fault_delays_but_answers_normally(client: OpenAI, server: EmulatorServer) -> None:
    server.inject(Fault(operation="list", kind="latency", latency_ms=50, times=1))

    assert client.videos.list().data == []
    assert server.request_log == [("GET", "/v1/videos", 200)]


@pytest.mark.parametrize(
    "kwargs",
    [{"operation": "upload"}, {"kind": "explode"}, {"status": 200}, {"times": 0}, {"probability": 1.5}],
)
def test_invalid_faults_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]
