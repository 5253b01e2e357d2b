"""The chaos run's late answers: an emulator's `timeout` fault marks its answer, and clients over
tests/late_answers.py take it as lost at once, through each provider's real client, with no real wait."""

from __future__ import annotations

from local.emulator import Fault as OpenAIFault
from local.fal_emulator import Fault as FalFault
from local.runway_emulator import Fault as RunwayFault
from sorajobs.models.job import JobStatus


def _lose_answers_at_once(world):
    world.provider_timeout_seconds = 60.0  # were the late answer waited for, it would arrive in time
    world.late_answers_lost_at_once = True
    world.use_settings()


def test_a_late_create_answer_from_the_gateway_is_lost_at_once_and_the_create_still_happened(world):
    _lose_answers_at_once(world)
    world.emulator.inject(OpenAIFault(operation="create", kind="timeout", times=1))

    job_id = world.submit().body["id"]

    assert world.stored_job(job_id).status is JobStatus.PENDING  # the answer never came
    assert world.emulator.created_count == 1


def test_a_late_submit_answer_from_fal_is_lost_at_once_and_the_request_still_queued(fal_world):
    _lose_answers_at_once(fal_world)
    fal_world.fal.inject(FalFault(operation="submit", kind="timeout", times=1))

    job_id = fal_world.submit(provider="fal", model="fal-ai/veo3/fast").body["id"]

    assert fal_world.stored_job(job_id).status is JobStatus.PENDING
    assert fal_world.fal.submitted_count == 1


def test_a_late_create_answer_from_runway_is_lost_at_once_and_the_task_still_made(runway_world):
    _lose_answers_at_once(runway_world)
    runway_world.runway.inject(RunwayFault(operation="create", kind="timeout", times=1))

    job_id = runway_world.submit(provider="runway", model="gen4.5").body["id"]

    assert runway_world.stored_job(job_id).status is JobStatus.PENDING
    assert runway_world.runway.created_count == 1


def test_an_answer_on_time_passes_through(world):
    _lose_answers_at_once(world)

    job_id = world.submit().body["id"]

    assert world.stored_job(job_id).status is JobStatus.QUEUED
