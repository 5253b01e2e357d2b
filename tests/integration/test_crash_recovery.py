"""Invocations killed at step boundaries, and lost create answers: the next sweep or queue redelivery
recovers each case, with one paid create per attempt and no orphaned multipart upload."""

from __future__ import annotations

import hashlib

import pytest

from local.emulator import Fault
from sorajobs.logic.lifecycle import STORE_RECHECK_DELAY, SUBMIT_LEASE
from sorajobs.models.job import JobStatus
from tests.chaos.crash import InvocationKilled
from tests.conftest import LambdaContext, World, http_event, load_handler, provider_calls, sqs_event


def _stored_bytes_match_the_provider(world: World, job_id: str) -> bool:
    job = world.stored_job(job_id)
    body = world.s3.get_object(Bucket=world.resources.bucket_name, Key=job.video.key)["Body"].read()
    expected = world.emulator.video(job.provider_video_id)["content_sha256"]
    return hashlib.sha256(body).hexdigest() == expected == job.video.sha256


def _orphaned_uploads(world: World) -> list[dict]:
    return world.s3.list_multipart_uploads(Bucket=world.resources.bucket_name).get("Uploads", [])


def _finished_job_and_its_store_request(world: World) -> tuple[str, list[dict]]:
    """A job the provider finished, and its store request, received with no visibility timeout so that it
    comes straight back: the queue's redelivery."""
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    messages = world.sqs.receive_message(QueueUrl=world.resources.queue_url, VisibilityTimeout=0)["Messages"]
    return job_id, messages


def _store(messages: list[dict]) -> dict:
    return load_handler("store_video").lambda_handler(sqs_event("store_video", messages), LambdaContext())


def _only_job_id(world: World) -> str:
    (item,) = [item for item in world.table_items() if item["pk"]["S"].startswith("JOB#")]
    return item["pk"]["S"].removeprefix("JOB#")


def test_a_submit_killed_after_the_provider_create_is_adopted_by_the_sweep_not_created_again(world):
    world.crashes.kill_next("after_provider_create")

    with pytest.raises(InvocationKilled):
        world.submit()

    job_id = _only_job_id(world)
    stranded = world.stored_job(job_id)
    assert stranded.status == "pending" and stranded.provider_video_id is None
    assert world.emulator.created_count == 1
    world.advance(SUBMIT_LEASE.total_seconds() + 1)

    world.sweep()

    job = world.stored_job(job_id)
    assert job.status in ("queued", "in_progress")
    assert job.provider_video_id is not None and job.create_started_at is None
    assert world.emulator.created_count == 1


def test_a_create_whose_answer_is_lost_is_found_by_the_next_try(world):
    world.provider_timeout_seconds = 0.2
    world.use_settings()
    world.emulator.inject(Fault(operation="create", kind="timeout", latency_ms=600, times=1))

    response = world.submit()

    assert response.status == 202
    job_id = response.body["id"]
    assert world.stored_job(job_id).status == "pending"
    assert world.emulator.created_count == 1
    world.advance(60)
    world.sweep()
    job = world.stored_job(job_id)
    assert job.status in ("queued", "in_progress") and job.provider_video_id is not None
    assert world.emulator.created_count == 1


def test_a_create_refused_by_the_provider_is_sent_again_once(world):
    world.emulator.inject(Fault(operation="create", status=500, times=1))

    job_id = world.submit().body["id"]
    world.advance(60)
    world.sweep()

    job = world.stored_job(job_id)
    assert job.status in ("queued", "in_progress")
    assert world.emulator.created_count == 1
    assert provider_calls(world, "POST", "/v1/videos") == 2


def test_an_earlier_attempts_video_is_never_adopted_by_a_resubmitted_attempt(world):
    job_id = world.submit().body["id"]
    first_video = world.stored_job(job_id).provider_video_id
    world.crashes.kill_next("after_provider_create")

    with pytest.raises(InvocationKilled):  # a reset with resubmit creates at once, and dies after it
        world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": True}))
    world.advance(SUBMIT_LEASE.total_seconds() + 1)

    world.sweep()

    job = world.stored_job(job_id)
    assert job.attempt == 2
    assert job.provider_video_id not in (None, first_video)
    assert world.emulator.created_count == 2


def test_a_store_killed_after_its_parts_leaves_no_orphaned_upload_once_redelivered(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    world.crashes.kill_next("after_upload_parts")

    with pytest.raises(InvocationKilled):
        world.drain_store_queue()

    assert len(_orphaned_uploads(world)) == 1
    assert world.stored_job(job_id).status == "in_progress"
    world.sqs.purge_queue(QueueUrl=world.resources.queue_url)  # the redelivery is the sweep's re-send
    world.advance(STORE_RECHECK_DELAY.total_seconds() + 1)

    world.sweep()
    world.drain_store_queue()

    assert world.stored_job(job_id).status == JobStatus.COMPLETED
    assert _orphaned_uploads(world) == []
    assert _stored_bytes_match_the_provider(world, job_id)


def test_a_store_killed_after_its_parts_of_a_job_reset_meanwhile_leaves_no_orphaned_upload(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    # Received with no visibility timeout, the message comes straight back: the queue's redelivery.
    messages = world.sqs.receive_message(QueueUrl=world.resources.queue_url, VisibilityTimeout=0)["Messages"]
    world.crashes.kill_next("after_upload_parts")
    with pytest.raises(InvocationKilled):
        _store(messages)
    assert len(_orphaned_uploads(world)) == 1

    reset = world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": False}))
    assert reset.status == 200
    world.drain_store_queue()

    assert world.stored_job(job_id).status == JobStatus.RESET
    assert _orphaned_uploads(world) == []


def test_a_redelivered_store_request_of_a_stored_attempt_aborts_what_a_killed_delivery_left(world):
    job_id, messages = _finished_job_and_its_store_request(world)
    world.drain_store_queue()
    job = world.stored_job(job_id)
    assert job.status == JobStatus.COMPLETED
    # A delivery that ran alongside the one that stored the video, killed after its parts.
    world.s3.create_multipart_upload(Bucket=world.resources.bucket_name, Key=job.video.key)

    result = _store(messages)

    assert result == {"batchItemFailures": []}
    assert _orphaned_uploads(world) == []
    assert _stored_bytes_match_the_provider(world, job_id)


def test_a_sweep_killed_after_the_status_write_hands_the_video_to_the_store_step_on_a_later_sweep(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.crashes.kill_next("after_status_write")

    with pytest.raises(InvocationKilled):
        world.sweep()

    assert world.stored_job(job_id).awaiting_storage
    assert world.queued_messages() == 0
    world.advance(STORE_RECHECK_DELAY.total_seconds() + 1)

    world.sweep()
    world.drain_store_queue()

    assert world.stored_job(job_id).status == JobStatus.COMPLETED
    assert _stored_bytes_match_the_provider(world, job_id)


def _thumbnail_upload_killed(world: World) -> str:
    """A finished job whose store try stored the video and was killed after the thumbnail's parts; the
    request's last receive, so it is gone (to the dead-letter queue) and will not come back by itself."""
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    world.crashes.kill_next("after_upload_parts", after=1)
    with pytest.raises(InvocationKilled):
        world.drain_store_queue()
    assert [upload["Key"] for upload in _orphaned_uploads(world)] == [f"videos/{job_id}/attempt-1/thumbnail.webp"]
    world.sqs.purge_queue(QueueUrl=world.resources.queue_url)
    assert world.stored_job(job_id).awaiting_storage
    return job_id


@pytest.mark.parametrize("resubmit", [False, True])
def test_a_killed_thumbnail_upload_whose_request_ran_out_is_aborted_when_its_job_is_reset(world, resubmit):
    job_id = _thumbnail_upload_killed(world)

    reset = world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": resubmit}))
    world.drain_store_queue()

    assert reset.status == 200
    assert world.stored_job(job_id).attempt == (2 if resubmit else 1)
    assert _orphaned_uploads(world) == []


def test_a_killed_thumbnail_upload_whose_request_ran_out_is_aborted_by_the_sweeps_resend(world):
    job_id = _thumbnail_upload_killed(world)
    world.advance(STORE_RECHECK_DELAY.total_seconds() + 1)

    world.sweep()
    world.drain_store_queue()

    assert world.stored_job(job_id).status == JobStatus.COMPLETED
    assert _stored_bytes_match_the_provider(world, job_id)
    assert _orphaned_uploads(world) == []


def test_a_finished_generation_past_the_maximum_age_is_stored_not_timed_out(world):
    world.use_settings(max_job_age_seconds=300)  # shorter than the wait for the store's re-send
    job_id = _thumbnail_upload_killed(world)
    world.advance(STORE_RECHECK_DELAY.total_seconds() + 1)

    world.sweep()
    world.drain_store_queue()

    job = world.stored_job(job_id)
    assert job.status == JobStatus.COMPLETED and job.error is None
    assert _stored_bytes_match_the_provider(world, job_id)


def test_a_later_try_that_fails_at_the_video_still_aborts_a_killed_tries_thumbnail_upload(world):
    job_id, messages = _finished_job_and_its_store_request(world)
    world.crashes.kill_next("after_upload_parts", after=1)
    with pytest.raises(InvocationKilled):
        _store(messages)
    assert len(_orphaned_uploads(world)) == 1
    world.emulator.inject(Fault(operation="download", status=500, times=1))

    result = _store(messages)

    assert len(result["batchItemFailures"]) == 1  # the video download failed; the queue delivers it again
    assert world.stored_job(job_id).awaiting_storage
    assert _orphaned_uploads(world) == []
