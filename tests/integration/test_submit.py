"""POST /videos: acceptance, idempotency, provider outages and rejections, and every bad input."""

from __future__ import annotations

import pytest

from local.emulator import Fault, Scenario
from tests.conftest import OWNER, assert_error, http_event


def test_submit_returns_202_with_location_and_the_job(world):
    response = world.call("submit", http_event("submit"))

    assert response.status == 202
    job = response.body
    assert response.headers["location"] == f"/videos/{job['id']}"
    assert job["status"] == "queued"
    assert job["provider_video_id"].startswith("video_")
    assert job["model"] == "sora-2" and job["seconds"] == "4" and job["size"] == "720x1280"
    assert job["metadata"] == {"campaign": "autumn"}
    assert job["ready"] is False and job["video"] is None and job["error"] is None
    assert job["attempt"] == 1 and job["created_at"].endswith("Z")
    assert world.emulator.created_count == 1
    assert world.stored_job(job["id"]).owner == OWNER


def test_integer_seconds_are_normalised_to_the_string_form(world):
    response = world.submit(seconds=12)

    assert response.status == 202
    assert response.body["seconds"] == "12"
    assert world.emulator.video(response.body["provider_video_id"])["seconds"] == "12"


def test_a_retried_request_with_the_same_idempotency_key_returns_the_same_job_and_pays_once(world):
    event = http_event("submit", headers={"idempotency-key": "retry-me-1"})

    first = world.call("submit", event)
    second = world.call("submit", event)

    assert first.status == second.status == 202
    assert first.body["id"] == second.body["id"]
    assert world.emulator.created_count == 1


def test_idempotency_keys_are_scoped_to_the_owner(world):
    first = world.call("submit", http_event("submit", headers={"idempotency-key": "shared"}))
    second = world.call("submit", http_event("submit", owner="user-456", headers={"idempotency-key": "shared"}))

    assert first.body["id"] != second.body["id"]
    assert world.emulator.created_count == 2


def test_reusing_an_idempotency_key_with_another_body_is_refused(world):
    world.call("submit", http_event("submit", headers={"idempotency-key": "k1"}))
    jobs_before = world.table_items()

    response = world.call(
        "submit", http_event("submit", headers={"idempotency-key": "k1"}, body={"prompt": "something else"})
    )

    assert_error(response, 422, "idempotency_key_reused")
    assert world.emulator.created_count == 1
    assert len(world.table_items()) == len(jobs_before)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(operation="create", status=500),
        Fault(operation="create", status=429, retry_after=40, code="rate_limit_exceeded"),
    ],
    ids=["provider-5xx", "provider-rate-limited"],
)
def test_a_provider_outage_at_submit_still_accepts_the_job_as_pending_and_the_sweep_submits_it(world, fault):
    world.emulator.inject(fault)

    response = world.submit()

    assert response.status == 202
    job_id = response.body["id"]
    assert response.body["status"] == "pending" and response.body["provider_video_id"] is None
    assert world.emulator.created_count == 0

    world.emulator.clear_faults()
    world.advance(45)
    world.sweep()

    job = world.get_job(job_id).body
    assert job["status"] == "queued" and job["provider_video_id"]
    assert world.emulator.created_count == 1


def test_an_unreachable_provider_at_submit_leaves_the_job_pending(world):
    world.emulator.stop()

    response = world.submit()

    assert response.status == 202
    assert response.body["status"] == "pending"
    assert world.stored_job(response.body["id"]).next_poll_at is not None


def test_a_moderated_prompt_answers_422_with_the_provider_code_and_keeps_the_job_failed(world):
    world.emulator.add_rule(prompt_contains="forbidden", scenario=Scenario(reject_code="moderation_blocked"))

    response = world.submit(prompt="something forbidden")

    assert_error(response, 422, "moderation_blocked")
    assert "moderation" in response.body["error"]["message"]
    job_id = response.body["error"]["details"][0]["job_id"]
    job = world.stored_job(job_id)
    assert job.status == "failed" and job.error.code == "moderation_blocked"
    assert job.next_poll_at is None


def _job_items(world):
    return [item for item in world.table_items() if item["pk"]["S"].startswith("JOB#")]


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({}, "validation_error", 422),
        ({"prompt": ""}, "validation_error", 422),
        ({"prompt": "   "}, "validation_error", 422),
        ({"prompt": "x" * 32001}, "validation_error", 422),
        ({"prompt": "ok", "seconds": "5"}, "unsupported_option", 400),
        ({"prompt": "ok", "seconds": True}, "validation_error", 422),
        ({"prompt": "ok", "seconds": "a while"}, "validation_error", 422),
        ({"prompt": "ok", "size": "640x480"}, "unsupported_option", 400),
        ({"prompt": "ok", "size": "big"}, "validation_error", 422),
        ({"prompt": "ok", "model": "dall-e-3"}, "unsupported_model", 400),
        ({"prompt": "ok", "provider": "midjourney"}, "validation_error", 422),
        ({"prompt": "ok", "provider": "fal"}, "unsupported_model", 400),
        ({"prompt": "ok", "image_url": "https://example.com/cat.png"}, "unsupported_option", 400),
        ({"prompt": "ok", "image_url": "http://example.com/cat.png"}, "validation_error", 422),
        ({"prompt": "ok", "metadata": {f"k{i}": "v" for i in range(17)}}, "validation_error", 422),
        ({"prompt": "ok", "metadata": {"k": 1}}, "validation_error", 422),
        ({"prompt": "ok", "surprise": 1}, "validation_error", 422),
        (["prompt"], "validation_error", 422),
    ],
    ids=[
        "missing-prompt",
        "empty-prompt",
        "blank-prompt",
        "oversized-prompt",
        "seconds-the-model-does-not-take",
        "boolean-seconds",
        "seconds-not-a-number",
        "size-the-model-does-not-take",
        "size-not-a-size",
        "unknown-model",
        "unknown-provider",
        "provider-not-enabled",
        "image-for-a-text-only-model",
        "image-not-https",
        "too-many-metadata-keys",
        "non-string-metadata",
        "unknown-field",
        "not-an-object",
    ],
)
def test_bad_submit_bodies_are_refused_and_change_nothing(world, body, code, status):
    response = world.call("submit", http_event("submit", body=body))

    assert_error(response, status, code)
    assert _job_items(world) == []
    assert world.emulator.created_count == 0


def test_a_body_that_is_not_json_is_a_400(world):
    response = world.call("submit", http_event("submit", raw_body="{not json"))

    assert_error(response, 400, "invalid_json")
    assert _job_items(world) == []


def test_an_oversized_body_is_a_413(world):
    response = world.call("submit", http_event("submit", raw_body='{"prompt": "' + "x" * 1_100_000 + '"}'))

    assert_error(response, 413, "payload_too_large")
    assert _job_items(world) == []


def test_a_request_without_an_authenticated_subject_is_a_401(world):
    response = world.call("submit", http_event("submit", owner=None))

    assert_error(response, 401, "unauthorized")
    assert _job_items(world) == []
