"""A job goes from submit to a stored, verified video, driven only by the sweep and the store step."""

from __future__ import annotations

import hashlib


def test_submitted_job_completes_with_the_video_verified_in_s3(world):
    submitted = world.submit(seconds=8)
    assert submitted.status == 202
    job_id = submitted.body["id"]
    assert submitted.headers["location"] == f"/videos/{job_id}"
    assert submitted.body["status"] == "queued"
    assert submitted.body["seconds"] == "8"

    first_look = world.stored_job(job_id).next_poll_at - world.clock.now()  # predicted from the render times
    world.advance(first_look.total_seconds())
    world.sweep()
    assert world.get_job(job_id).body["status"] == "in_progress"

    world.advance(120)  # well past the end of the render (95 s) and the next poll it scheduled
    world.sweep()
    waiting = world.get_job(job_id).body
    assert waiting["status"] == "in_progress" and waiting["progress"] == 100 and waiting["ready"] is False

    world.drain_store_queue()
    done = world.get_job(job_id).body
    assert done["status"] == "completed" and done["ready"] is True
    provider_video = world.emulator.video(done["provider_video_id"])
    key = world.stored_job(job_id).video.key
    stored = world.s3.get_object(Bucket=world.resources.bucket_name, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == provider_video["content_sha256"] == done["video"]["sha256"]
    assert done["video"]["bytes"] == len(stored)
    assert done["completed_at"].endswith("Z")
