"""fal's status answer as the adapter reads it: the runner's log times and `metrics.inference_time` when given, and
an answer that does not parse as a temporary fault, never a crash."""

from __future__ import annotations

import httpx
import pytest

from sorajobs.clock import SystemClock
from sorajobs.providers.base import ProviderState, ProviderTemporaryError
from sorajobs.providers.fal_queue import build_fal_provider

REQUEST = "fal-ai/veo3/requests/req_1"


def provider_answering(status_body: object):
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("logs") == "1"  # the logs are asked for: their times tell the start
        return httpx.Response(202, json=status_body)

    return build_fal_provider(
        api_key="k",
        queue_url="https://queue.fal.run",
        timeout_seconds=5,
        max_retries=0,
        clock=SystemClock(),
        transport=httpx.MockTransport(answer),
    )


def test_a_rendering_request_starts_at_its_runners_first_log_line():
    logs = [
        {"message": "step 2", "timestamp": "2026-11-21T12:00:20.500000Z"},
        {"message": "Starting", "timestamp": "2026-11-21T12:00:10+00:00"},
    ]

    video = provider_answering({"status": "IN_PROGRESS", "logs": logs}).retrieve(REQUEST)

    assert video.state is ProviderState.RUNNING
    assert video.started_at == pytest.approx(1_795_262_410.0)  # 2026-11-21T12:00:10Z


def test_log_lines_without_a_time_that_parses_leave_the_start_unknown():
    logs = [{"message": "warming up", "timestamp": "soon"}, {"message": "no time at all"}]

    video = provider_answering({"status": "IN_PROGRESS", "logs": logs}).retrieve(REQUEST)

    assert video.state is ProviderState.RUNNING and video.started_at is None


@pytest.mark.parametrize("body", [["IN_PROGRESS"], {"status": "IN_QUEUE", "queue_position": -1}, "IN_QUEUE"])
def test_a_status_that_does_not_parse_is_a_temporary_fault(body):
    with pytest.raises(ProviderTemporaryError) as fault:
        provider_answering(body).retrieve(REQUEST)

    assert fault.value.code == "provider_malformed_answer"
