"""The store-video step: streamed multipart copy into S3, verification, retries and expired content."""

from __future__ import annotations

import copy
import hashlib
import json

from local.emulator import Fault, Scenario
from tests.conftest import LambdaContext, load_event, load_handler


def _finished_job(world, **scenario):
    if scenario:
        world.emulator.script_next(Scenario(**scenario))
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    return job_id


def _store_event(*bodies):
    event = copy.deepcopy(load_event("store_video"))
    template = event["Records"][0]
    event["Records"] = [
        {**template, "messageId": f"m-{n}", "body": body if isinstance(body, str) else json.dumps(body)}
        for n, body in enumerate(bodies)
    ]
    return event


def _message_for(world, job_id):
    job = world.stored_job(job_id)
    return {"job_id": job.id, "provider_video_id": job.provider_video_id, "attempt": job.attempt}


def _invoke(event):
    return load_handler("store_video").lambda_handler(event, LambdaContext())


def test_the_store_step_copies_video_and_thumbnail_and_completes_the_job(world):
    job_id = _finished_job(world)

    result = _invoke(_store_event(_message_for(world, job_id)))

    assert result == {"batchItemFailures": []}
    job = world.stored_job(job_id)
    assert job.status == "completed" and job.completed_at == world.clock.now()
    provider = world.emulator.video(job.provider_video_id)
    body = world.s3.get_object(Bucket=world.resources.bucket_name, Key=job.video.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == provider["content_sha256"] == job.video.sha256
    assert job.video.content_type == "video/mp4" and job.video.bytes == len(body)
    assert job.thumbnail is not None and job.thumbnail.content_type == "image/webp"


def test_a_video_larger_than_one_part_is_uploaded_in_several_parts(world):
    job_id = _finished_job(world, video_bytes=20 * 1024 * 1024 + 123)

    _invoke(_store_event(_message_for(world, job_id)))

    job = world.stored_job(job_id)
    head = world.s3.head_object(Bucket=world.resources.bucket_name, Key=job.video.key, PartNumber=1)
    assert head["PartsCount"] == 3
    assert job.video.bytes == 20 * 1024 * 1024 + 123
    assert job.video.sha256 == world.emulator.video(job.provider_video_id)["content_sha256"]


def test_an_interrupted_download_aborts_the_upload_and_is_retried(world):
    job_id = _finished_job(world, video_bytes=12 * 1024 * 1024)
    world.emulator.inject(Fault(operation="download", kind="reset", reset_after_bytes=9 * 1024 * 1024, times=1))
    event = _store_event(_message_for(world, job_id))

    first = _invoke(event)

    assert first == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.stored_job(job_id).status == "in_progress"
    uploads = world.s3.list_multipart_uploads(Bucket=world.resources.bucket_name)
    assert uploads.get("Uploads", []) == []
    assert world.bucket_keys() == []

    second = _invoke(event)

    assert second == {"batchItemFailures": []}
    assert world.stored_job(job_id).status == "completed"


def test_expired_provider_content_fails_the_job_with_content_expired(world):
    job_id = _finished_job(world)
    world.advance(2 * 3600)

    result = _invoke(_store_event(_message_for(world, job_id)))

    assert result == {"batchItemFailures": []}
    job = world.stored_job(job_id)
    assert job.status == "failed" and job.error.code == "content_expired"
    assert world.bucket_keys() == []


def test_a_broken_message_fails_alone_and_its_valid_neighbour_is_stored(world):
    job_id = _finished_job(world)

    result = _invoke(_store_event("{not json", {"job_id": "x"}, _message_for(world, job_id)))

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert world.stored_job(job_id).status == "completed"


def test_a_redelivered_message_for_a_stored_video_is_acknowledged_without_a_second_copy(world):
    job_id = _finished_job(world)
    event = _store_event(_message_for(world, job_id))
    _invoke(event)
    downloads = [entry for entry in world.emulator.request_log if entry[1].endswith("/content")]

    result = _invoke(event)

    assert result == {"batchItemFailures": []}
    assert [entry for entry in world.emulator.request_log if entry[1].endswith("/content")] == downloads


def test_the_sample_event_file_is_accepted_by_the_handler(world):
    result = _invoke(load_event("store_video"))  # refers to a job this table does not hold

    assert result == {"batchItemFailures": []}
