"""fal webhooks, checked by a receiver written from fal's docs alone: it fetches the JWKS over HTTP, rebuilds the
signed message (request id, user id, timestamp, SHA-256 hex of the body, joined by newlines) and verifies the
ED25519 signature with `cryptography`; it rejects timestamps more than five minutes from its own clock."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from local.fal_emulator import FalEmulatorServer, Fault, ManualClock, Scenario, SystemClock
from tests.fal_emulator.conftest import FAL_KEY, PROCESSING_SECONDS, QUEUE_SECONDS, VEO3, config
from tests.webhook_receiver import Receiver

FINISH = QUEUE_SECONDS + PROCESSING_SECONDS
USER_ID = "user-4711"
LEEWAY_SECONDS = 300


class WebhookRejected(Exception):
    pass


def verify(headers: dict[str, str], body: bytes, jwks_url: str) -> dict[str, Any]:
    """fal's verification steps, from https://docs.fal.ai/model-endpoints/webhooks; the payload if it passes."""
    request_id = headers["x-fal-webhook-request-id"]
    user_id = headers["x-fal-webhook-user-id"]
    timestamp = headers["x-fal-webhook-timestamp"]
    signature = bytes.fromhex(headers["x-fal-webhook-signature"])
    if abs(time.time() - int(timestamp)) > LEEWAY_SECONDS:
        raise WebhookRejected("timestamp outside the 5-minute window")
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode("utf-8")
    jwks = httpx.get(jwks_url).raise_for_status().json()
    for jwk in jwks["keys"]:
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        except InvalidSignature:
            continue
        payload: dict[str, Any] = json.loads(body)
        return payload
    raise WebhookRejected("no published key verifies the signature")


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Start receivers (answering scripted statuses first); all stop after the test."""
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        started.append(Receiver(statuses=statuses or []))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[FalEmulatorServer]:
    with FalEmulatorServer(config(user_id=USER_ID), clock=clock) as running:
        yield running


def submit_with_webhook(server: FalEmulatorServer, url: str, **arguments: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/{VEO3}",
        params={"fal_webhook": url},
        json=arguments or {"prompt": "a cat"},
        headers={"Authorization": f"Key {FAL_KEY}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(server: FalEmulatorServer, receiver: Receiver, count: int) -> list[tuple[dict[str, str], bytes]]:
    assert server.flush_webhooks(timeout=5)
    assert receiver.wait_for(count)
    return list(receiver.requests)


def deliver_one(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock, scenario: Scenario
) -> tuple[dict[str, str], bytes]:
    """Submit one request that follows ``scenario`` and let it finish; its one delivery."""
    server.script_next(scenario)
    submit_with_webhook(server, receiver.url)
    clock.advance(FINISH)
    [delivery] = deliveries(server, receiver, 1)
    return delivery


def test_a_completed_request_posts_a_signed_ok_webhook(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    submitted = submit_with_webhook(server, receiver.url)
    clock.advance(QUEUE_SECONDS)
    assert server.flush_webhooks(timeout=5)
    assert receiver.requests == []  # nothing before the request completes

    clock.advance(PROCESSING_SECONDS)
    [(headers, body)] = deliveries(server, receiver, 1)
    assert headers["content-type"] == "application/json"
    assert headers["x-fal-webhook-request-id"] == submitted["request_id"]
    assert headers["x-fal-webhook-user-id"] == USER_ID
    payload = verify(headers, body, server.jwks_url)
    result = httpx.get(submitted["response_url"], headers={"Authorization": f"Key {FAL_KEY}"}).json()
    assert payload == {
        "error": None,
        "gateway_request_id": submitted["request_id"],
        "payload": result,
        "request_id": submitted["request_id"],
        "status": "OK",
    }
    assert server.webhook_log()[0]["delivered"] is True


def test_a_failed_request_posts_an_error_webhook(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    server.script_next(Scenario(outcome="failed", error_type="content_policy_violation"))
    submitted = submit_with_webhook(server, receiver.url, prompt="flagged")
    clock.advance(FINISH)
    [(headers, body)] = deliveries(server, receiver, 1)
    payload = verify(headers, body, server.jwks_url)
    assert (payload["status"], payload["error"]) == ("ERROR", "Invalid status code: 422")
    assert payload["payload"]["detail"][0]["type"] == "content_policy_violation"
    assert payload["request_id"] == submitted["request_id"]


def test_an_invalid_input_and_a_cancel_post_error_webhooks(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    invalid = submit_with_webhook(server, receiver.url, duration="8s")  # no prompt
    clock.advance(FINISH)
    cancelled = submit_with_webhook(server, receiver.url, prompt="never mind")
    assert httpx.put(cancelled["cancel_url"], headers={"Authorization": f"Key {FAL_KEY}"}).status_code == 202
    received = deliveries(server, receiver, 2)
    payloads = {payload["request_id"]: payload for payload in (verify(h, b, server.jwks_url) for h, b in received)}
    assert payloads[invalid["request_id"]]["payload"]["detail"][0]["type"] == "missing"
    assert payloads[cancelled["request_id"]]["payload"]["error_type"] == "client_cancelled"


def test_a_payload_error_sends_null_with_the_reason(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    headers, body = deliver_one(server, receiver, clock, Scenario(webhook_payload_error=True))
    payload = verify(headers, body, server.jwks_url)
    assert payload["status"] == "OK"
    assert payload["payload"] is None
    assert payload["payload_error"]


def test_a_bad_signature_is_rejected(server: FalEmulatorServer, receiver: Receiver, clock: ManualClock) -> None:
    headers, body = deliver_one(server, receiver, clock, Scenario(webhook_fault="bad_signature"))
    with pytest.raises(WebhookRejected, match="no published key"):
        verify(headers, body, server.jwks_url)


def test_a_stale_timestamp_is_rejected(server: FalEmulatorServer, receiver: Receiver, clock: ManualClock) -> None:
    headers, body = deliver_one(server, receiver, clock, Scenario(webhook_fault="stale_timestamp"))
    with pytest.raises(WebhookRejected, match="5-minute window"):
        verify(headers, body, server.jwks_url)
    assert int(headers["x-fal-webhook-timestamp"]) < time.time() - LEEWAY_SECONDS


def test_a_rotated_key_verifies_with_the_second_published_key(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    headers, body = deliver_one(server, receiver, clock, Scenario(webhook_fault="rotated_key"))
    assert verify(headers, body, server.jwks_url)["status"] == "OK"
    first_key = httpx.get(server.jwks_url).json()["keys"][0]
    raw = base64.urlsafe_b64decode(first_key["x"] + "=")
    message = "\n".join(
        [
            headers["x-fal-webhook-request-id"],
            headers["x-fal-webhook-user-id"],
            headers["x-fal-webhook-timestamp"],
            hashlib.sha256(body).hexdigest(),
        ]
    ).encode()
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(raw).verify(bytes.fromhex(headers["x-fal-webhook-signature"]), message)


def test_a_duplicate_delivery_sends_the_same_body_twice(
    server: FalEmulatorServer, receiver: Receiver, clock: ManualClock
) -> None:
    server.script_next(Scenario(webhook_fault="duplicate"))
    submit_with_webhook(server, receiver.url)
    clock.advance(FINISH)
    first, second = deliveries(server, receiver, 2)
    assert first[1] == second[1]
    assert verify(*first, server.jwks_url) == verify(*second, server.jwks_url)


def test_a_failed_delivery_is_retried(clock: ManualClock, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers([500, 503])
    with FalEmulatorServer(config(webhook_retry_delays=(0.05, 0.05, 0.05)), clock=clock) as server:
        submit_with_webhook(server, receiver.url)
        clock.advance(FINISH)
        received = deliveries(server, receiver, 3)
        assert len({body for _headers, body in received}) == 1
        for headers, body in received:
            verify(headers, body, server.jwks_url)
        [logged] = server.webhook_log()
    assert [attempt["status"] for attempt in logged["attempts"]] == [500, 503, 204]
    assert logged["delivered"] is True


def test_a_delivery_that_keeps_failing_is_given_up(clock: ManualClock, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers([500] * 5)
    with FalEmulatorServer(config(webhook_retry_delays=(0.01, 0.01)), clock=clock) as server:
        submit_with_webhook(server, receiver.url)
        clock.advance(FINISH)
        assert server.flush_webhooks(timeout=5)
        [logged] = server.webhook_log()
    assert ([attempt["status"] for attempt in logged["attempts"]], logged["delivered"]) == ([500] * 3, False)


def test_the_jwks_can_fail_too(server: FalEmulatorServer) -> None:
    server.inject(Fault(operation="jwks", status=503, times=1))
    assert httpx.get(server.jwks_url).status_code == 503
    keys = httpx.get(server.jwks_url).json()["keys"]
    assert len(keys) == 2
    assert all(set(key) == {"kty", "crv", "x"} for key in keys)


def test_a_webhook_url_that_is_not_http_is_refused(server: FalEmulatorServer) -> None:
    response = httpx.post(
        f"{server.base_url}/{VEO3}",
        params={"fal_webhook": "ftp://example.com/hook"},
        json={"prompt": "x"},
        headers={"Authorization": f"Key {FAL_KEY}"},
    )
    assert response.status_code == 400
    assert server.submitted_count == 0


def test_on_the_system_clock_the_webhook_comes_when_the_request_completes(receiver: Receiver) -> None:
    settings = config(queue_seconds=0.05, processing_seconds=0.1)
    with FalEmulatorServer(settings, clock=SystemClock()) as server:
        submitted = submit_with_webhook(server, receiver.url)
        assert receiver.wait_for(1, timeout=5)  # the scheduler woke for the finish; nobody polled
        [(headers, body)] = receiver.requests
        assert verify(headers, body, server.jwks_url)["request_id"] == submitted["request_id"]
