"""Jobs on fal, through the real HTTP API against the fal queue emulator: queue positions, the result, signed
webhooks that finish a job with no status poll, forged and stale webhooks, cancel, and fal's failures."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from pydantic import SecretStr

from local.fal_emulator import Fault, Scenario
from sorajobs.models.job import JobStatus
from tests.conftest import assert_error, http_event
from tests.provider_emulators import FAL_KEY, Delivery

MODEL = "fal-ai/veo3/fast"


def fal_calls(world, method: str, suffix: str = "") -> int:
    return sum(
        1
        for call_method, path, _status in world.fal.request_log
        if call_method == method and path.endswith(suffix) and not path.startswith("/_emulator")
    )


def sent_after(world, seconds: float) -> list[Delivery]:
    """The webhooks fal sends while the clock moves on by `seconds`, as they reached the inbox."""
    world.advance(seconds)
    world.fal.flush_webhooks()
    return world.fal_inbox.take()


def submit_fal(world, **body):
    response = world.submit(**{"provider": "fal", "model": MODEL, **body})
    assert response.status == 202, response.body
    return response.body


def test_a_fal_job_is_queued_with_its_position_and_completes_into_s3_by_the_sweep(fal_world):
    world = fal_world
    world.use_settings(fal_webhook_url="")  # no webhooks: the sweep carries the job
    first, _second, third = (submit_fal(world, prompt=f"shot {n}") for n in range(3))

    assert (first["provider"], first["model"], first["seconds"], first["size"]) == ("fal", MODEL, "8", "1280x720")
    world.advance(6)  # two runners take the first two; the third waits at the head of the queue
    waiting = world.sora_status(third["id"]).body
    assert waiting["status"] == "queued" and waiting["queue_position"] == 0

    world.advance(120)
    world.sweep()
    world.drain_store_queue()
    done = world.get_job(first["id"]).body
    assert done["status"] == "completed" and done["ready"] and done["queue_position"] is None
    stored = world.s3.get_object(Bucket=world.resources.bucket_name, Key=world.stored_job(first["id"]).video.key)
    body = stored["Body"].read()
    assert hashlib.sha256(body).hexdigest() == done["video"]["sha256"] and body[4:8] == b"ftyp"
    assert world.stored_job(first["id"]).thumbnail is None  # fal makes none; the video is what was paid for
    content = world.call("read_api", http_event("read_api_content", job_id=first["id"]))
    assert content.status == 302 and "attempt-1/video.mp4" in content.headers["location"]


def test_a_signed_webhook_finishes_the_job_with_no_status_poll_after_it(fal_world):
    world = fal_world
    job_id = submit_fal(world)["id"]
    world.advance(60)  # fal finishes and posts its webhook; no poll has run
    polls_before = fal_calls(world, "GET", "/status")

    [answer] = world.deliver_fal_webhooks()
    world.drain_store_queue()

    assert answer.status == 200 and answer.body == {"received": True, "outcome": "refreshed"}
    assert fal_calls(world, "GET", "/status") == polls_before == 0
    job = world.stored_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.video is not None


def test_a_redelivered_webhook_is_handled_once(fal_world):
    world = fal_world
    world.fal.script_next(Scenario(webhook_fault="duplicate"))
    job_id = submit_fal(world)["id"]
    world.advance(60)

    answers = world.deliver_fal_webhooks()

    assert [answer.body["outcome"] for answer in answers] == ["refreshed", "duplicate"]
    assert world.stored_job(job_id).provider_status == "completed"


def test_a_webhook_signed_by_a_rotated_key_is_accepted(fal_world):
    world = fal_world
    world.fal.script_next(Scenario(webhook_fault="rotated_key"))
    job_id = submit_fal(world)["id"]
    world.advance(60)

    [answer] = world.deliver_fal_webhooks()

    assert answer.status == 200
    assert world.stored_job(job_id).awaiting_storage


def test_a_forged_or_stale_webhook_is_refused_and_changes_nothing(fal_world):
    world = fal_world
    world.fal.add_rule(prompt_contains="forged", scenario=Scenario(webhook_fault="bad_signature"))
    world.fal.add_rule(prompt_contains="stale", scenario=Scenario(webhook_fault="stale_timestamp"))
    forged, stale = submit_fal(world, prompt="forged")["id"], submit_fal(world, prompt="stale")["id"]
    world.advance(60)
    before = {job_id: world.stored_job(job_id) for job_id in (forged, stale)}

    answers = world.deliver_fal_webhooks()

    assert sorted(answer.status for answer in answers) == [401, 401]
    assert all(answer.body["error"]["code"] == "invalid_signature" for answer in answers)
    assert {job_id: world.stored_job(job_id) for job_id in (forged, stale)} == before


def test_a_webhook_body_changed_in_transit_is_refused(fal_world):
    world = fal_world
    job_id = submit_fal(world)["id"]
    [delivery] = sent_after(world, 60)
    tampered = json.loads(delivery.body)
    tampered["status"] = "ERROR"

    answer = world.post_fal_webhook(dataclasses.replace(delivery, body=json.dumps(tampered).encode()))

    assert_error(answer, 401, "invalid_signature")
    assert world.stored_job(job_id).status is JobStatus.QUEUED


def test_a_webhook_for_another_job_changes_nothing(fal_world):
    world = fal_world
    first, second = submit_fal(world, prompt="first")["id"], submit_fal(world, prompt="second")["id"]
    deliveries = sent_after(world, 60)
    [for_first] = [delivery for delivery in deliveries if delivery.query["job"] == first]

    answer = world.post_fal_webhook(dataclasses.replace(for_first, query={**for_first.query, "job": second}))

    assert answer.status == 200 and answer.body["outcome"] == "unknown_video"
    assert world.stored_job(second).status is JobStatus.QUEUED


def _misdirected(delivery: Delivery, job_id: str, attempt: int) -> Delivery:
    """A genuine delivery sent again with a query naming another job or attempt: the query is not signed."""
    return dataclasses.replace(delivery, query={"job": job_id, "attempt": str(attempt)})


def test_a_create_whose_answer_was_lost_is_adopted_from_its_webhook(fal_world):
    world = fal_world
    world.provider_timeout_seconds = 0.5
    world.use_settings()
    world.fal.inject(Fault(operation="submit", kind="timeout", latency_ms=1500, times=1))
    job_id = submit_fal(world)["id"]
    assert world.stored_job(job_id).status is JobStatus.PENDING
    world.advance(60)

    [answer] = world.deliver_fal_webhooks()

    assert answer.body["outcome"] == "refreshed"
    job = world.stored_job(job_id)
    assert job.awaiting_storage and job.provider_video_id.endswith(world.fal.request_ids()[0])
    assert world.fal.submitted_count == 1


def test_another_jobs_webhook_sent_for_a_job_awaiting_a_lost_create_is_not_adopted(fal_world):
    world = fal_world
    first = submit_fal(world, prompt="first")["id"]
    world.fal.inject(Fault(operation="submit", status=500, times=1))  # no saying what the create made
    second = submit_fal(world, prompt="second")["id"]
    [for_first] = sent_after(world, 60)

    answer = world.post_fal_webhook(_misdirected(for_first, second, 1))

    assert answer.status == 200 and answer.body["outcome"] == "unknown_video"
    job = world.stored_job(second)
    assert job.status is JobStatus.PENDING and job.provider_video_id is None
    assert world.stored_job(first).provider_video_id.endswith(world.fal.request_ids()[0])


def test_an_earlier_attempts_webhook_sent_as_the_current_attempts_is_not_adopted(fal_world):
    world = fal_world
    job_id = submit_fal(world)["id"]
    [first_attempt] = sent_after(world, 60)
    world.fal.inject(Fault(operation="submit", status=500, times=1))
    reset = world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": True}))
    assert reset.status == 200 and world.stored_job(job_id).create_started_at is not None

    answer = world.post_fal_webhook(_misdirected(first_attempt, job_id, 2))

    assert answer.status == 200 and answer.body["outcome"] == "unknown_video"
    job = world.stored_job(job_id)
    assert (job.attempt, job.status, job.provider_video_id) == (2, JobStatus.PENDING, None)


def test_a_copy_sent_for_another_job_does_not_use_up_the_genuine_delivery(fal_world):
    world = fal_world
    world.provider_timeout_seconds = 0.5
    world.use_settings()
    world.fal.inject(Fault(operation="submit", kind="timeout", latency_ms=1500, times=1))
    first = submit_fal(world, prompt="first")["id"]  # its create's answer is lost: only its webhook can name it
    second = submit_fal(world, prompt="second")["id"]
    [for_first] = [delivery for delivery in sent_after(world, 60) if delivery.query["job"] == first]
    copy = world.post_fal_webhook(_misdirected(for_first, second, 1))

    genuine = world.post_fal_webhook(for_first)

    assert copy.body["outcome"] == "unknown_video"
    assert genuine.status == 200 and genuine.body["outcome"] == "refreshed"
    assert world.stored_job(first).awaiting_storage


def test_a_content_policy_failure_fails_the_job_with_its_category(fal_world):
    world = fal_world
    world.fal.script_next(Scenario(outcome="failed", error_type="content_policy_violation"))
    job_id = submit_fal(world)["id"]
    world.advance(60)

    world.deliver_fal_webhooks()

    job = world.stored_job(job_id)
    assert job.status is JobStatus.FAILED
    assert (job.error.code, job.error.category) == ("content_policy_violation", "content_policy")


def test_a_completed_request_whose_result_is_an_error_fails_the_job_when_polled(fal_world):
    world = fal_world
    world.use_settings(fal_webhook_url="")
    world.fal.script_next(Scenario(outcome="failed", error_type="internal_server_error"))
    job_id = submit_fal(world)["id"]
    world.advance(60)

    answer = world.sora_status(job_id).body

    assert answer["status"] == "failed" and answer["error"]["category"] == "provider_internal"


def test_cancel_of_a_queued_fal_job_cancels_it_at_fal(fal_world):
    world = fal_world
    world.fal.set_concurrency(1)
    submit_fal(world, prompt="takes the only runner")
    job_id = submit_fal(world)["id"]
    world.advance(6)

    response = world.call("reset", http_event("cancel", job_id=job_id))

    assert response.status == 200 and response.body["status"] == "cancelled"
    request_id = world.stored_job(job_id).provider_video_id.rsplit("/", 1)[1]
    assert world.fal.request(request_id)["cancel_requested_at"] is not None
    assert fal_calls(world, "PUT", "/cancel") == 1


def test_an_image_to_video_job_passes_its_image_to_fal(fal_world):
    world = fal_world
    image = "https://images.example.com/cat.png"

    body = submit_fal(world, model="fal-ai/kling-video/v2.1/master/image-to-video", image_url=image)

    request_id = world.stored_job(body["id"]).provider_video_id.rsplit("/", 1)[1]
    arguments = world.fal.request(request_id)["arguments"]
    assert arguments["image_url"] == image and arguments["duration"] == "5" and "aspect_ratio" not in arguments


def test_a_fal_429_pauses_only_fal(fal_world):
    world = fal_world
    world.use_settings(provider_create_rpm=600)
    world.fal.inject(Fault(operation="submit", status=429, retry_after=30, times=1))
    fal_job = submit_fal(world)
    openai_job = world.submit()

    assert fal_job["status"] == "pending"
    assert openai_job.body["status"] == "queued"
    assert world.services.rate_budget.take("fal#create").granted == 0
    assert world.services.rate_budget.take("create").granted == 1


def test_fal_s_own_slot_limit_holds_back_only_fal_jobs(fal_world):
    world = fal_world
    world.use_settings(provider_limits={"fal": {"max_in_flight": 1}})

    first, second = submit_fal(world, prompt="first"), submit_fal(world, prompt="second")
    openai_job = world.submit().body

    assert (first["status"], second["status"], openai_job["status"]) == ("queued", "pending", "queued")
    world.deliver_fal_webhooks()
    world.advance(60)
    world.deliver_fal_webhooks()  # the first finishes and frees fal's slot
    world.sweep()
    assert world.stored_job(second["id"]).status is JobStatus.QUEUED


def test_a_job_whose_provider_key_went_missing_waits_and_is_not_lost(fal_world):
    world = fal_world
    world.fal.inject(Fault(operation="submit", status=429, retry_after=1, times=1))
    job_id = submit_fal(world)["id"]

    emulator, world.fal = world.fal, None  # the backend builds fal from its settings now
    world.use_settings(fal_key=SecretStr(""), fal_key_secret_name="")  # and an operator removed the key meanwhile
    world.advance(60)
    world.sweep()
    assert world.stored_job(job_id).status is JobStatus.PENDING

    world.fal = emulator
    world.use_settings(fal_key=SecretStr(FAL_KEY))  # the key is back
    world.advance(60)
    world.sweep()
    assert world.stored_job(job_id).status is JobStatus.QUEUED


def test_a_job_fal_finished_after_its_last_poll_is_stored_not_timed_out(fal_world):
    """fal reports no progress while a request runs, so a long render reaches the stuck limit with nothing
    changed since the last poll. The sweep looks once more before it fails the job, and finds it done."""
    world = fal_world
    world.use_settings(fal_webhook_url="", stuck_after_seconds=300)
    world.fal.script_next(Scenario(queue_seconds=0, processing_seconds=290))
    job_id = submit_fal(world)["id"]
    world.advance(5)
    assert world.sora_status(job_id).body["status"] == "in_progress"

    world.advance(400)  # finished at 290 s; no progress seen for longer than the stuck limit
    result = world.sweep()
    world.drain_store_queue()

    assert result["outcomes"] == {"polled": 1}
    assert world.get_job(job_id).body["status"] == "completed"


def test_a_fal_job_still_running_at_the_stuck_limit_fails_with_timeout_after_one_last_look(fal_world):
    world = fal_world
    world.use_settings(fal_webhook_url="", stuck_after_seconds=300)
    world.fal.script_next(Scenario(queue_seconds=0, outcome="stuck"))
    job_id = submit_fal(world)["id"]
    world.advance(5)
    world.sora_status(job_id)
    polls_before = fal_calls(world, "GET", "/status")

    world.advance(400)
    result = world.sweep()

    assert result["outcomes"] == {"timed_out": 1}
    assert fal_calls(world, "GET", "/status") == polls_before + 1
    failed = world.get_job(job_id).body
    assert failed["status"] == "failed" and failed["error"]["code"] == "timeout"
