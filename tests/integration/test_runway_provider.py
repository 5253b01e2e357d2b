"""Jobs on Runway, through the real HTTP API and the real `runwayml` SDK against the Runway tasks emulator:
progress, THROTTLED, SAFETY failures, expiring output URLs, cancel, image-to-video, and creates never retried."""

from __future__ import annotations

import hashlib

from local.runway_emulator import Fault, Scenario
from sorajobs.models.job import JobStatus
from tests.conftest import assert_error, http_event

MODEL = "gen4.5"


def runway_calls(world, method: str, fragment: str) -> int:
    return sum(
        1
        for call_method, path, _status in world.runway.request_log
        if call_method == method and fragment in path and not path.startswith("/_emulator")
    )


def submit_runway(world, **body):
    response = world.submit(**{"provider": "runway", "model": MODEL, **body})
    assert response.status == 202, response.body
    return response.body


def test_a_runway_job_moves_with_progress_and_completes_into_s3(runway_world):
    world = runway_world
    job = submit_runway(world, seconds="5", size="720x1280")
    task_id = job["provider_video_id"]
    assert (job["provider"], job["model"], job["status"]) == ("runway", MODEL, "queued")
    assert world.runway.task(task_id)["params"]["ratio"] == "720:1280"

    world.advance(12)  # pending 2 s, then running for 20 s
    running = world.sora_status(job["id"]).body
    assert running["status"] == "in_progress" and 0 < running["progress"] < 100

    world.advance(60)
    world.sweep()
    world.drain_store_queue()
    done = world.get_job(job["id"]).body
    assert done["status"] == "completed" and done["ready"]
    stored = world.s3.get_object(Bucket=world.resources.bucket_name, Key=world.stored_job(job["id"]).video.key)
    content = stored["Body"].read()
    assert (
        hashlib.sha256(content).hexdigest() == world.runway.task(task_id)["content_sha256"] == done["video"]["sha256"]
    )


def test_a_throttled_task_stays_queued(runway_world):
    world = runway_world
    world.runway.script_next(Scenario(throttled_seconds=120))
    job_id = submit_runway(world)["id"]

    world.advance(30)
    answer = world.sora_status(job_id).body

    assert answer["status"] == "queued"
    assert world.stored_job(job_id).provider_status == "THROTTLED"


def test_a_safety_failure_fails_the_job_once_as_content_policy_and_is_never_resubmitted(runway_world):
    world = runway_world
    world.runway.script_next(Scenario.safety_failure("SAFETY.INPUT.TEXT"))
    job_id = submit_runway(world)["id"]

    world.advance(30)
    world.sweep()
    world.advance(600)
    world.sweep()

    job = world.stored_job(job_id)
    assert job.status is JobStatus.FAILED
    assert (job.error.code, job.error.category) == ("SAFETY.INPUT.TEXT", "content_policy")
    assert world.runway.created_count == 1
    assert job.next_poll_at is None


def test_an_expired_output_url_is_replaced_by_a_fresh_one_at_download(runway_world):
    world = runway_world
    world.runway.script_next(Scenario(running_seconds=5))
    job_id = submit_runway(world)["id"]
    world.advance(30)
    world.sora_status(job_id)  # sees SUCCEEDED; the URL it was given is not kept
    world.advance(3 * 86_400)  # every URL handed out so far has expired

    world.drain_store_queue()

    job = world.stored_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.video is not None


def test_a_lost_create_answer_is_never_sent_again(runway_world):
    world = runway_world
    world.runway.inject(Fault(operation="create", kind="timeout", latency_ms=1500, times=1))
    world.provider_timeout_seconds = 0.5
    world.use_settings()
    job_id = world.submit(provider="runway", model=MODEL).body["id"]

    world.advance(60)
    world.sweep()

    job = world.stored_job(job_id)
    assert world.runway.created_count == 1  # the create reached Runway once, and was never repeated
    assert job.status is JobStatus.FAILED and job.error.code == "create_outcome_unknown"


def test_a_429_at_create_leaves_the_job_pending_for_the_sweep(runway_world):
    world = runway_world
    world.runway.inject(Fault(operation="create", status=429, retry_after=5, times=1))

    pending = submit_runway(world)

    assert pending["status"] == "pending"
    world.advance(60)
    world.sweep()
    assert world.stored_job(pending["id"]).status is JobStatus.QUEUED
    assert world.runway.created_count == 1


def test_cancel_of_a_running_job_deletes_the_task(runway_world):
    world = runway_world
    job_id = submit_runway(world)["id"]
    world.advance(10)

    response = world.call("reset", http_event("cancel", job_id=job_id))

    assert response.status == 200 and response.body["status"] == "cancelled"
    task = world.runway.task(world.stored_job(job_id).provider_video_id)
    assert task["cancelled"] or task["deleted"]


def test_an_image_to_video_job_sends_its_image(runway_world):
    world = runway_world
    image = "https://images.example.com/cat.png"

    job = submit_runway(world, model="gen4_turbo", image_url=image)

    task = world.runway.task(job["provider_video_id"])
    assert task["endpoint"].endswith("image_to_video") and task["params"]["promptImage"] == image


def test_a_wrong_runway_key_fails_the_job_with_category_auth(runway_world):
    world = runway_world
    world.runway_key = "key_wrong"
    world.use_settings()

    response = world.submit(provider="runway", model=MODEL)

    assert_error(response, 503, "provider_auth_failed")
    job = world.stored_job(response.body["error"]["details"][0]["job_id"])
    assert job.status is JobStatus.FAILED and job.error.category == "auth"
    assert world.runway.created_count == 0
