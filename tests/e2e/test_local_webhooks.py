"""Webhooks end to end on the local stack: the emulator's signed provider webhook reaches the gateway,
the job finishes without a sweep, and the client's endpoint gets every event, signed.

Time is manual on both sides and the pollers are driven by hand, so nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from botocore.exceptions import ClientError
from standardwebhooks.webhooks import Webhook

from local.backend_clock import ManualClock
from local.emulator import EmulatorConfig
from local.emulator import ManualClock as EmulatorClock
from local.stack import LocalStack
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


# The emulator signs with the wall clock, as a real provider does, and the backend allows ±300 s:
# so the manual clocks start at the real time when this module's stack starts (not when the suite was collected,
# minutes earlier), and move at most 120 s from it.
@pytest.fixture(scope="module")
def clocks() -> tuple[ManualClock, EmulatorClock]:
    start = datetime.now(UTC).replace(microsecond=0)
    return ManualClock(start), EmulatorClock(start=start.timestamp())


@pytest.fixture(scope="module")
def stack(clocks: tuple[ManualClock, EmulatorClock]) -> Iterator[LocalStack]:
    backend, emulator = clocks
    with LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=5, render_seconds=60),
        emulator_clock=emulator,
        backend_clock=backend,
        background=False,
    ) as local:
        yield local


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    token = stack.mint_token("e2e-webhooks", ["users"])
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def submit_with_webhook(api: httpx.Client, receiver: Receiver, prompt: str) -> str:
    submitted = api.post("/videos", json={"prompt": prompt, "webhook_url": receiver.url})
    assert submitted.status_code == 202, submitted.text
    return str(submitted.json()["id"])


def test_a_provider_webhook_finishes_the_job_and_the_client_gets_every_event_signed(stack, clocks, receiver, api):
    backend, emulator = clocks
    job_id = submit_with_webhook(api, receiver, "A kite over the dunes")

    backend.advance(120)
    emulator.advance(120)  # the provider finishes and posts its signed video.completed to the gateway
    assert stack.emulator is not None and stack.emulator.flush_webhooks(timeout=30)
    stack.store_poller.drain()  # no sweep ran: the provider's webhook alone moved the job on
    job = api.get(f"/videos/{job_id}").json()
    assert job["status"] == "completed" and job["ready"] is True

    stack.stream_poller.drain()
    stack.webhook_poller.drain()
    log = api.get(f"/videos/{job_id}/webhooks").json()["data"]

    assert [entry["delivered"] for entry in stack.emulator.webhook_log()] == [True]
    events = [httpx.Response(200, content=body).json() for _, body in receiver.requests]
    assert events[0]["type"] == "video.queued" and events[-1]["type"] == "video.completed"
    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))
    assert stack.resources is not None
    for headers, body in receiver.requests:
        moment = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        expected = Webhook(stack.resources.webhook_signing_secret).sign(headers["webhook-id"], moment, body.decode())
        assert expected in headers["webhook-signature"].split(" ")
    assert {entry["state"] for entry in log} == {"delivered"}
    assert {entry["attempts"][0]["status_code"] for entry in log} == {204}


def test_a_transition_that_loses_its_race_does_not_stop_the_clients_events(stack, clocks, receiver, api):
    """A write that loses a race (the sweep and the provider's webhook completing one job) is a cancelled
    transaction. moto used to roll it back by swapping in a copy of the table and its stream, and the stream
    poller, still reading the old one, passed on no event after it (local.moto_dynamodb)."""
    backend, emulator = clocks
    job_id = submit_with_webhook(api, receiver, "A heron in the reeds")
    stack.stream_poller.drain()

    assert stack.resources is not None
    with pytest.raises(ClientError, match="TransactionCanceled"):
        stack.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": stack.resources.table_name,
                        "Key": {"pk": {"S": f"JOB#{job_id}"}},
                        "ConditionExpression": "version = :stale",
                        "ExpressionAttributeValues": {":stale": {"N": "-1"}},
                    }
                }
            ]
        )

    backend.advance(120)
    emulator.advance(120)
    assert stack.emulator is not None and stack.emulator.flush_webhooks(timeout=30)
    stack.store_poller.drain()
    stack.stream_poller.drain()
    stack.webhook_poller.drain()

    events = [httpx.Response(200, content=body).json() for _, body in receiver.requests]
    assert [event["type"] for event in events][-1] == "video.completed"
