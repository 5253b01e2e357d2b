"""Injected faults on the queue's operations, the CDN and the JWKS: fal's error bodies, Retry-After, gateway pages,
slow and lost answers, and downloads cut mid-body."""

from __future__ import annotations

import httpx
import pytest

from local.fal_emulator import FalEmulatorServer, Fault, ManualClock
from tests.fal_emulator.conftest import PROCESSING_SECONDS, QUEUE_SECONDS, VEO3, submit

FINISH = QUEUE_SECONDS + PROCESSING_SECONDS


def test_a_429_on_submit_says_when_to_retry_and_submits_nothing(server: FalEmulatorServer, http: httpx.Client) -> None:
    server.inject(Fault(operation="submit", status=429, retry_after=3, times=1))
    limited = http.post(f"/{VEO3}", json={"prompt": "x"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert "detail" in limited.json()
    assert server.submitted_count == 0
    submit(http)
    assert server.submitted_count == 1
    assert server.faults() == []


@pytest.mark.parametrize(("status", "error_type"), [(500, "internal_error"), (503, "runner_scheduling_failure")])
def test_a_5xx_answers_a_request_error(
    server: FalEmulatorServer, http: httpx.Client, status: int, error_type: str
) -> None:
    submitted = submit(http)
    server.inject(Fault(operation="status", status=status, times=1))
    failed = http.get(submitted["status_url"])
    assert failed.status_code == status
    assert failed.json()["error_type"] == error_type
    assert failed.headers["x-fal-error-type"] == error_type
    assert "x-fal-request-id" in failed.headers
    assert http.get(submitted["status_url"]).status_code == 202


def test_an_ingress_error_is_an_nginx_page(server: FalEmulatorServer, http: httpx.Client) -> None:
    submitted = submit(http)
    server.inject(Fault(operation="result", status=502, error_type="ingress", times=1))
    page = http.get(submitted["response_url"])
    assert page.status_code == 502
    assert page.headers["content-type"].startswith("text/html")
    assert "nginx" in page.text
    assert "x-fal-request-id" not in page.headers


def test_a_reset_submit_still_queues_the_request(server: FalEmulatorServer, http: httpx.Client) -> None:
    server.inject(Fault(operation="submit", kind="reset", times=1))
    with pytest.raises(httpx.TransportError):
        http.post(f"/{VEO3}", json={"prompt": "x"})
    assert server.submitted_count == 1
    assert server.request_log[-1] == ("POST", f"/{VEO3}", 0)


def test_a_slow_cancel_answers_late(server: FalEmulatorServer, http: httpx.Client) -> None:
    submitted = submit(http)
    server.inject(Fault(operation="cancel", kind="timeout", latency_ms=2000, times=1))
    with pytest.raises(httpx.ReadTimeout):
        http.put(submitted["cancel_url"], timeout=0.2)
    # The cancel ran: the answer was only late.
    assert server.request(submitted["request_id"])["status"] == "COMPLETED"


def test_a_download_cut_mid_body(server: FalEmulatorServer, http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http)
    clock.advance(FINISH)
    url = http.get(submitted["response_url"]).json()["video"]["url"]
    server.inject(Fault(operation="download", kind="reset", reset_after_bytes=1000, times=1))
    with pytest.raises(httpx.HTTPError):
        httpx.get(url)
    assert httpx.get(url).status_code == 200


def test_latency_delays_then_answers(server: FalEmulatorServer, http: httpx.Client) -> None:
    server.inject(Fault(operation="submit", kind="latency", latency_ms=50, times=1))
    submit(http)
    assert server.faults() == []


def test_a_fault_for_an_operation_fal_has_not_is_refused() -> None:
    with pytest.raises(ValueError, match="operation must be one of"):
        Fault(operation="create")
