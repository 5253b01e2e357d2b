"""GET /videos/{id}/sora-status: refreshes from the provider at most every few seconds, never 5xx."""

from __future__ import annotations

from local.emulator import Fault, Scenario
from sorajobs.logic.lifecycle import transition_to_failed
from sorajobs.models.job import JobError
from sorajobs.providers.base import ProviderState
from tests.conftest import OTHER_OWNER, assert_error, http_event, provider_calls


def _submitted(world, **body):
    return world.submit(**body).body["id"]


def test_the_status_call_refreshes_an_unfinished_job_and_says_when_to_poll_next(world):
    job_id = _submitted(world)
    world.advance(20)

    response = world.call("sora_status", http_event("sora_status", job_id=job_id))

    assert response.status == 200
    assert response.body["status"] == "in_progress" and response.body["progress"] > 0
    assert response.body["estimated_seconds_remaining"] > 0
    assert int(response.headers["retry-after"]) >= 1


def test_a_second_call_within_the_minimum_interval_does_not_call_the_provider(world):
    job_id = _submitted(world)
    world.advance(20)
    world.sora_status(job_id)
    retrieves = provider_calls(world, "GET", "/v1/videos/")

    world.advance(2)
    response = world.sora_status(job_id)

    assert response.status == 200
    assert provider_calls(world, "GET", "/v1/videos/") == retrieves
    assert response.headers["retry-after"] == "3"


def test_a_finished_job_is_answered_from_the_table_without_retry_after(world):
    job_id = _submitted(world)
    world.emulator.inject(Fault(operation="retrieve", status=500))  # any provider call would show
    job = world.stored_job(job_id)
    failed = transition_to_failed(job, JobError(code="generation_failed", message="No."), world.clock.now())
    world.services.jobs.save_transition(job, failed.job)
    world.advance(30)

    response = world.sora_status(job_id)

    assert response.status == 200 and response.body["status"] == "failed"
    assert "retry-after" not in response.headers
    assert provider_calls(world, "GET", "/v1/videos/") == 0


def test_a_rate_limited_provider_answers_the_stored_job_with_the_providers_retry_after(world):
    job_id = _submitted(world)
    world.emulator.inject(Fault(operation="retrieve", status=429, retry_after=30, code="rate_limit_exceeded"))
    world.advance(20)

    response = world.sora_status(job_id)

    assert response.status == 200
    assert response.body["status"] == "queued"
    assert int(response.headers["retry-after"]) >= 30


def test_a_provider_outage_answers_the_stored_job_not_a_5xx(world):
    job_id = _submitted(world)
    world.emulator.stop()
    world.advance(20)

    response = world.sora_status(job_id)

    assert response.status == 200 and response.body["status"] == "queued"


def test_a_video_the_provider_no_longer_knows_fails_the_job_with_not_found(world):
    job_id = _submitted(world)
    world.emulator.inject(Fault(operation="retrieve", status=404, code="video_not_found"))
    world.advance(20)

    response = world.sora_status(job_id)

    assert response.body["status"] == "failed"
    assert response.body["error"]["code"] == "not_found"


def test_a_provider_failure_fails_the_job_with_the_providers_error(world):
    world.emulator.script_next(Scenario(outcome="failed", fail_code="video_generation_failed", fail_at_progress=10))
    job_id = _submitted(world)
    world.advance(5 + 60)

    response = world.sora_status(job_id)

    assert response.body["status"] == "failed"
    assert response.body["error"]["code"] == "video_generation_failed"
    assert world.stored_job(job_id).next_poll_at is None


def test_provider_completion_hands_the_video_to_the_store_step_but_is_not_yet_completed(world):
    job_id = _submitted(world)
    world.advance(70)

    response = world.sora_status(job_id)

    assert response.body["status"] == "in_progress" and response.body["progress"] == 100
    assert response.body["ready"] is False
    assert world.queued_messages() == 1
    world.drain_store_queue()
    assert world.sora_status(job_id).body["status"] == "completed"


def test_an_unknown_provider_status_is_ignored_not_stored(world):
    world.emulator.script_next(Scenario(status_override="rendering_on_mars"))
    job_id = _submitted(world)
    before = world.stored_job(job_id)
    world.advance(20)

    response = world.sora_status(job_id)

    assert response.status == 200 and response.body["status"] == before.status
    assert world.stored_job(job_id).provider_status == before.provider_status


def test_a_provider_report_of_an_earlier_status_does_not_move_the_job_back(world):
    job_id = _submitted(world)
    world.advance(40)
    progressed = world.sora_status(job_id).body
    assert progressed["status"] == "in_progress"
    # The provider now claims the video is queued again (a stale replica, say).
    provider = world.services.provider("openai")
    real_retrieve = provider.retrieve
    provider.retrieve = lambda _id: real_retrieve(_id).model_copy(
        update={"state": ProviderState.QUEUED, "status": "queued", "progress": 0}
    )
    world.advance(10)

    response = world.sora_status(job_id)

    assert response.body["status"] == "in_progress"
    assert response.body["progress"] == progressed["progress"]


def test_another_owners_job_is_a_404(world):
    job_id = _submitted(world)

    assert_error(world.sora_status(job_id, owner=OTHER_OWNER), 404, "not_found")


def test_an_unknown_job_is_a_404(world):
    assert_error(world.call("sora_status", http_event("sora_status")), 404, "not_found")
