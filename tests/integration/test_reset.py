"""POST /videos/{id}/reset: abandon a stuck or failed attempt, keep it in history, optionally resubmit."""

from __future__ import annotations

import pytest

from local.emulator import Scenario
from tests.conftest import OTHER_OWNER, assert_error, http_event


def _reset(world, job_id, body=None, owner="user-123", raw_body=None):
    return world.call("reset", http_event("reset", job_id=job_id, body=body, owner=owner, raw_body=raw_body))


def _stuck_job(world):
    world.emulator.script_next(Scenario(outcome="stuck", stuck_at_progress=30))
    job_id = world.submit().body["id"]
    world.advance(40)
    world.sora_status(job_id)
    return job_id


def test_reset_abandons_the_attempt_clears_the_provider_link_and_keeps_history(world):
    job_id = _stuck_job(world)
    provider_video_id = world.stored_job(job_id).provider_video_id

    response = _reset(world, job_id, {"resubmit": False})

    assert response.status == 200
    assert response.body["status"] == "reset"
    assert response.body["provider_video_id"] is None and response.body["progress"] == 0
    stored = world.stored_job(job_id)
    assert stored.next_poll_at is None
    assert [(a.attempt, a.provider_video_id, a.status) for a in stored.history] == [
        (1, provider_video_id, "in_progress")
    ]


def test_reset_with_resubmit_starts_a_new_attempt_at_once(world):
    job_id = _stuck_job(world)
    old_provider_id = world.stored_job(job_id).provider_video_id

    response = _reset(world, job_id, {"resubmit": True})

    assert response.status == 200
    assert response.body["status"] == "queued"
    assert response.body["attempt"] == 2
    assert response.body["provider_video_id"] not in (None, old_provider_id)
    assert world.emulator.created_count == 2


def test_the_default_event_resubmits_a_failed_job(world):
    world.emulator.script_next(Scenario(outcome="failed", fail_at_progress=5))
    job_id = world.submit().body["id"]
    world.advance(70)
    assert world.sora_status(job_id).body["status"] == "failed"

    response = _reset(world, job_id, {"resubmit": True})

    assert response.body["status"] == "queued" and response.body["error"] is None
    assert world.stored_job(job_id).history[0].error.code == "video_generation_failed"


def test_a_reset_job_can_be_resubmitted_later(world):
    job_id = _stuck_job(world)
    _reset(world, job_id, {"resubmit": False})

    response = _reset(world, job_id, {"resubmit": True})

    assert response.body["status"] == "queued" and response.body["attempt"] == 2
    assert len(world.stored_job(job_id).history) == 1


def test_resetting_a_completed_job_is_a_409_and_keeps_its_video(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    world.drain_store_queue()
    before = world.stored_job(job_id)
    assert before.status == "completed"

    response = _reset(world, job_id, {"resubmit": True})

    assert_error(response, 409, "job_completed")
    assert world.stored_job(job_id) == before
    assert world.emulator.created_count == 1


def test_a_store_request_for_an_abandoned_attempt_is_dropped(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)  # the provider finished; a store request is queued
    _reset(world, job_id, {})

    world.drain_store_queue()

    assert world.stored_job(job_id).status == "reset"
    assert world.bucket_keys() == []


@pytest.mark.parametrize(
    ("body", "raw_body", "status", "code"),
    [
        ({"resubmit": "yes"}, None, 422, "validation_error"),
        ({"resubmit": True, "force": True}, None, 422, "validation_error"),
        (None, "{oops", 400, "invalid_json"),
    ],
    ids=["non-boolean-resubmit", "unknown-field", "bad-json"],
)
def test_bad_reset_bodies_are_refused_and_change_nothing(world, body, raw_body, status, code):
    job_id = _stuck_job(world)
    before = world.stored_job(job_id)

    response = _reset(world, job_id, body, raw_body=raw_body)

    assert_error(response, status, code)
    assert world.stored_job(job_id) == before


def test_resetting_another_owners_job_is_a_404_and_changes_nothing(world):
    job_id = _stuck_job(world)
    before = world.stored_job(job_id)

    assert_error(_reset(world, job_id, {"resubmit": True}, owner=OTHER_OWNER), 404, "not_found")
    assert world.stored_job(job_id) == before


def test_resetting_an_unknown_job_is_a_404(world):
    assert_error(world.call("reset", http_event("reset")), 404, "not_found")
