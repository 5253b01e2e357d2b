"""Inbound provider webhooks: POST /provider-webhooks/openai, signed per Standard Webhooks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from local.emulator import Fault, Scenario
from local.resources import new_whsec
from sorajobs.models.job import JobStatus
from tests.conftest import World, assert_error, http_event, provider_calls


def provider_event(video_id: str, kind: str = "video.completed", event_id: str = "evt_provider_1") -> str:
    return json.dumps(
        {"id": event_id, "object": "event", "created_at": 1795262400, "type": kind, "data": {"id": video_id}}
    )


def signed_headers(
    world: World, body: str, *, webhook_id: str = "msg_1", secret: str | None = None, at_offset: float = 0.0
) -> dict[str, str]:
    """Headers made by the standardwebhooks package (a signer we did not write), at the world's time."""
    moment = world.clock.now() + timedelta(seconds=at_offset)
    signature = Webhook(secret or world.resources.provider_webhook_secret).sign(webhook_id, moment, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


def post_webhook(world: World, body: str, headers: dict[str, Any]) -> Any:
    event = http_event("provider_webhook", raw_body=body, owner=None, headers=headers)
    return world.call("provider_webhook", event)


def render_to_the_end(world: World) -> str:
    """A submitted job whose provider video has just completed, not yet seen by any poll."""
    job_id = world.submit().body["id"]
    world.emulator_clock.advance(70)  # the provider finishes; the backend's clock stays put
    return job_id


def test_a_completed_event_refreshes_the_job_at_once_and_hands_it_to_the_store_step(world):
    job_id = render_to_the_end(world)
    video_id = world.stored_job(job_id).provider_video_id
    retrieves_before = provider_calls(world, "GET", f"/videos/{video_id}")
    body = provider_event(video_id)

    response = post_webhook(world, body, signed_headers(world, body))
    retrieves_after = provider_calls(world, "GET", f"/videos/{video_id}")
    world.drain_store_queue()

    assert response.status == 200 and response.body == {"received": True, "outcome": "refreshed"}
    assert retrieves_after == retrieves_before + 1
    job = world.stored_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.video is not None


def test_a_failed_event_fails_the_job(world):
    world.emulator.script_next(Scenario(outcome="failed", fail_code="moderation_blocked"))
    job_id = render_to_the_end(world)
    body = provider_event(world.stored_job(job_id).provider_video_id, "video.failed")

    response = post_webhook(world, body, signed_headers(world, body))

    assert response.status == 200
    job = world.stored_job(job_id)
    assert job.status is JobStatus.FAILED and job.error.code == "moderation_blocked"


def test_a_redelivered_event_is_handled_once(world):
    job_id = render_to_the_end(world)
    video_id = world.stored_job(job_id).provider_video_id
    body = provider_event(video_id)
    headers = signed_headers(world, body, webhook_id="msg_dup")

    first = post_webhook(world, body, headers)
    calls = provider_calls(world, "GET", f"/videos/{video_id}")
    second = post_webhook(world, body, headers)

    assert first.body["outcome"] == "refreshed"
    assert second.status == 200 and second.body["outcome"] == "duplicate"
    assert provider_calls(world, "GET", f"/videos/{video_id}") == calls


def test_an_unknown_video_is_acknowledged_and_logged(world, caplog):
    body = provider_event("video_nobody_knows")

    response = post_webhook(world, body, signed_headers(world, body))

    assert response.status == 200 and response.body["outcome"] == "unknown_video"
    assert any("no job knows" in record.getMessage() for record in caplog.records)


def test_the_sweep_never_undoes_what_a_webhook_did(world):
    job_id = render_to_the_end(world)
    stale = world.stored_job(job_id)  # what a sweep read before the webhook arrived
    body = provider_event(stale.provider_video_id)
    post_webhook(world, body, signed_headers(world, body))
    world.drain_store_queue()

    world.advance(60)
    world.sweep()
    world.wiring.sweeper.sweep_job(stale.id)  # a sweep that still holds the old version

    job = world.stored_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.video is not None


def _tampered(world: World, body: str) -> tuple[str, dict[str, str]]:
    return body.replace("video.completed", "video.failed"), signed_headers(world, body)


@pytest.mark.parametrize(
    "case",
    ["tampered_body", "wrong_secret", "too_old", "too_new", "missing_id", "missing_timestamp", "missing_signature"],
)
def test_a_bad_signature_gets_401_and_changes_nothing(world, case):
    job_id = render_to_the_end(world)
    body = provider_event(world.stored_job(job_id).provider_video_id)
    headers: dict[str, Any] = signed_headers(world, body)
    if case == "tampered_body":
        body, headers = _tampered(world, body)
    elif case == "wrong_secret":
        headers = signed_headers(world, body, secret=new_whsec())
    elif case == "too_old":
        headers = signed_headers(world, body, at_offset=-301)
    elif case == "too_new":
        headers = signed_headers(world, body, at_offset=301)
    else:
        headers[
            case.removeprefix("missing_")
            .replace("id", "webhook-id")
            .replace("timestamp", "webhook-timestamp")
            .replace("signature", "webhook-signature")
        ] = None
    items_before = world.table_items()
    calls_before = len(world.emulator.request_log)

    response = post_webhook(world, body, headers)

    assert_error(response, 401, "invalid_signature")
    assert world.table_items() == items_before
    assert len(world.emulator.request_log) == calls_before


def test_either_secret_is_accepted_during_a_rotation(world):
    newer = new_whsec()
    world.session.client("secretsmanager").put_secret_value(
        SecretId=world.settings.provider_webhook_secret_name,
        SecretString=f"{newer} {world.resources.provider_webhook_secret}",
    )
    job_id = render_to_the_end(world)
    body = provider_event(world.stored_job(job_id).provider_video_id)

    old = post_webhook(world, body, signed_headers(world, body, webhook_id="msg_old"))
    new = post_webhook(world, body, signed_headers(world, body, webhook_id="msg_new", secret=newer))

    assert old.status == 200 and new.status == 200


def test_a_signed_body_that_is_not_an_event_gets_400(world):
    body = json.dumps({"hello": "world"})

    response = post_webhook(world, body, signed_headers(world, body))

    assert_error(response, 400, "invalid_event")


def test_other_event_types_are_acknowledged_and_ignored(world):
    body = provider_event("video_x", "batch.completed")

    response = post_webhook(world, body, signed_headers(world, body))

    assert response.status == 200 and response.body["outcome"] == "ignored_type"


def test_a_provider_fault_on_the_refresh_is_recorded_on_the_job_with_its_delay(world):
    job_id = render_to_the_end(world)
    before = world.stored_job(job_id)
    world.emulator.inject(Fault(operation="retrieve", status=429, retry_after=40, code="rate_limit_exceeded", times=1))
    body = provider_event(before.provider_video_id)

    response = post_webhook(world, body, signed_headers(world, body))

    job = world.stored_job(job_id)
    assert response.body["outcome"] == "provider_fault"
    assert job.version == before.version + 1 and job.status is before.status
    assert job.next_poll_at == world.clock.now() + timedelta(seconds=40)


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "server_error"), (401, "invalid_api_key")],
    ids=["a fault with no delay named", "our key refused"],
)
def test_a_refresh_that_meets_a_fault_or_a_refused_key_answers_provider_fault(world, status, code):
    job_id = render_to_the_end(world)
    before = world.stored_job(job_id)
    world.emulator.inject(Fault(operation="retrieve", status=status, code=code))  # every retry meets it too
    body = provider_event(before.provider_video_id)

    response = post_webhook(world, body, signed_headers(world, body))

    job = world.stored_job(job_id)
    assert response.status == 200 and response.body["outcome"] == "provider_fault"
    assert job.status is before.status and job.next_poll_at is not None


def test_with_the_budget_spent_the_job_is_made_due_for_the_sweep(world):
    world.use_settings(provider_retrieve_rpm=1)
    job_id = render_to_the_end(world)
    world.services.rate_budget.take("retrieve")  # spend the only request
    body = provider_event(world.stored_job(job_id).provider_video_id)

    response = post_webhook(world, body, signed_headers(world, body))

    assert response.body["outcome"] == "due_now"
    assert world.stored_job(job_id).next_poll_at == world.clock.now()
