"""GET /videos/{id}/attempts: the attempt history a reset keeps, as the README promises."""

from __future__ import annotations

from local.emulator import Scenario
from tests.conftest import OTHER_OWNER, assert_error, http_event


def _attempts(world, job_id, owner="user-123"):
    return world.call("read_api", http_event("read_api_attempts", job_id=job_id, owner=owner))


def test_a_resubmitted_job_lists_the_abandoned_attempt_then_the_current_one(world):
    world.emulator.script_next(Scenario(outcome="failed", fail_at_progress=5, fail_code="generation_failed"))
    job_id = world.submit().body["id"]
    world.advance(70)
    first_video = world.sora_status(job_id).body["provider_video_id"]
    world.advance(5)
    world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": True}))

    response = _attempts(world, job_id)

    assert response.status == 200
    assert response.body["job_id"] == job_id
    first, current = response.body["data"]
    assert (first["attempt"], first["status"], first["provider_video_id"]) == (1, "failed", first_video)
    assert first["error"]["code"] == "generation_failed" and first["current"] is False
    assert first["started_at"] == "2026-11-21T12:00:00.000Z" and first["ended_at"] == "2026-11-21T12:01:15.000Z"
    assert (current["attempt"], current["status"], current["current"]) == (2, "queued", True)
    assert current["provider_video_id"] not in (None, first_video)
    assert current["started_at"] == "2026-11-21T12:01:15.000Z" and current["ended_at"] is None


def test_a_job_reset_without_resubmit_ends_with_its_abandoned_attempt(world):
    world.emulator.script_next(Scenario(outcome="stuck", stuck_at_progress=30))
    job_id = world.submit().body["id"]
    world.advance(40)
    world.sora_status(job_id)
    world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": False}))

    [abandoned] = _attempts(world, job_id).body["data"]

    assert (abandoned["attempt"], abandoned["status"], abandoned["progress"]) == (1, "in_progress", 30)
    assert abandoned["current"] is False and abandoned["ended_at"] is not None


def test_a_job_never_reset_has_one_attempt_its_current_one(world):
    job_id = world.submit().body["id"]

    [only] = _attempts(world, job_id).body["data"]

    assert (only["attempt"], only["status"], only["current"], only["ended_at"]) == (1, "queued", True, None)


def test_another_owners_job_is_answered_like_a_missing_one(world):
    job_id = world.submit().body["id"]

    assert_error(_attempts(world, job_id, owner=OTHER_OWNER), 404, "not_found")
    assert_error(_attempts(world, "job_missing"), 404, "not_found")
