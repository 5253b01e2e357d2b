"""Render times are learned from the jobs this deployment finishes, and the sweep asks the provider when the
learned times say, within the request budget."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from local.emulator import Scenario
from sorajobs.logic.render_times import estimate, kind_of
from sorajobs.logic.schedule import FIRST_LOOK_SHARE
from sorajobs.models.job import JobStatus
from sorajobs.models.render_times import RenderSample
from tests.conftest import provider_calls


def test_a_finished_generation_adds_its_time_at_the_provider_to_its_kinds_sums(world):
    job_id = world.submit().body["id"]  # the emulator takes 5 s queued and 60 s rendering
    world.advance(70)
    world.sweep()

    job = world.stored_job(job_id)
    sums = world.services.render_time_store.sums(kind_of(job))
    assert job.awaiting_storage
    assert sums.count == 1 and sums.log_sum == pytest.approx(math.log(65), abs=0.02)


def test_the_sweep_first_looks_when_the_learned_times_say_and_not_before(world):
    learned = world.wiring.render_times
    seed = world.stored_job(world.submit().body["id"])
    for seconds in [30.0, 31.0, 32.0, 33.0, 34.0] * 4:  # twenty finishes of this kind, about 32 s each
        learned.record(seed, RenderSample("whole", seconds))
    world.emulator.add_rule(prompt_contains="learned", scenario=Scenario(queue_seconds=2, render_seconds=30))

    job = world.stored_job(world.submit(prompt="a learned kind").body["id"])
    first_look = (job.next_poll_at - job.provider_accepted_at).total_seconds()
    expected = learned.distribution(job).quantile(FIRST_LOOK_SHARE)
    assert first_look == pytest.approx(expected, rel=0.11)  # within the schedule's jitter
    looked = provider_calls(world, "GET", f"/v1/videos/{job.provider_video_id}")

    world.advance(first_look - 2)
    world.sweep()
    assert provider_calls(world, "GET", f"/v1/videos/{job.provider_video_id}") == looked  # not due yet

    world.advance(4)
    world.sweep()
    assert provider_calls(world, "GET", f"/v1/videos/{job.provider_video_id}") == looked + 1
    assert world.stored_job(job.id).status is JobStatus.IN_PROGRESS


def test_the_sweep_keeps_within_the_retrieve_budget_when_predicted_looks_fall_together(world):
    world.use_settings(provider_limits={"openai": {"retrieve_rpm": 2}})
    ids = [world.submit(prompt=f"clip {number}").body["id"] for number in range(6)]
    world.advance(timedelta(minutes=5).total_seconds())  # every first look is due

    before = provider_calls(world, "GET", "/v1/videos/")
    world.sweep(timeout_seconds=1)

    assert provider_calls(world, "GET", "/v1/videos/") - before <= 2
    assert all(world.stored_job(job_id).next_poll_at is not None for job_id in ids)


def test_the_eta_served_on_the_job_comes_from_the_learned_times(world):
    learned = world.wiring.render_times
    seed = world.stored_job(world.submit().body["id"])
    for _ in range(20):
        learned.record(seed, RenderSample("whole", 300.0))

    served = world.get_job(world.submit().body["id"]).body

    # Twenty finishes of 300 s outweigh the catalog's 90 s (which counts as two).
    median = learned.distribution(seed).quantile(0.5)
    assert 250 < median < 300
    assert served["eta_seconds"] == pytest.approx(median, abs=2) == served["estimated_seconds_remaining"]
    assert served["eta_low_seconds"] < served["eta_seconds"] < served["eta_high_seconds"]


def test_a_fal_job_teaches_its_seconds_per_place_and_its_rendering_apart_and_its_eta_counts_its_place(fal_world):
    world = fal_world  # two runners; a request waits 2 s at least, then renders 30 s
    world.use_settings(fal_webhook_url="")
    ids = [world.submit(provider="fal", model="fal-ai/veo3/fast", prompt=f"shot {n}").body["id"] for n in range(3)]
    start = world.clock.now()
    world.advance(6)  # the first two render; the third waits at the head of the queue

    waiting = world.sora_status(ids[2]).body
    job = world.stored_job(ids[2])
    assert waiting["status"] == "queued" and waiting["queue_position"] == 0
    eta = estimate(job, world.clock.now(), world.wiring.render_times)
    assert eta is not None and waiting["eta_seconds"] == eta.seconds
    place = world.wiring.render_times.distribution(job, "queue_place").quantile(0.5)
    rendering = world.wiring.render_times.distribution(job, "rendering").quantile(0.5)
    assert eta.seconds == pytest.approx(place + rendering, abs=1)  # one place's wait, then the whole rendering

    world.advance(40)  # the third started when the first finished, at 32 s
    assert world.sora_status(ids[2]).body["status"] == "in_progress"
    job = world.stored_job(ids[2])
    assert job.provider_started_at == start + timedelta(seconds=32)  # the runner's first log line
    place_sums = world.services.render_time_store.sums(kind_of(job, "queue_place"))
    assert place_sums.count == 1 and place_sums.log_sum == pytest.approx(math.log(32 - 6), abs=0.01)

    world.advance(20)
    assert world.sora_status(ids[2]).body["status"] == "in_progress"  # finished at 62 s: being stored
    rendering_sums = world.services.render_time_store.sums(kind_of(job, "rendering"))
    whole_sums = world.services.render_time_store.sums(kind_of(job))
    assert rendering_sums.count == 1 and rendering_sums.log_sum == pytest.approx(math.log(30), abs=0.01)
    assert whole_sums.count == 1 and whole_sums.log_sum == pytest.approx(math.log(62), abs=0.02)


def test_a_wait_of_a_second_or_less_adds_to_its_kinds_sums(world):
    kind = kind_of(world.stored_job(world.submit().body["id"]), "queue_place")

    for seconds in (0.4, 1.0, 0.0):  # each counts as a second: ln 1 = 0, written as a plain 0
        world.services.render_time_store.add(kind, seconds)

    sums = world.services.render_time_store.sums(kind)
    assert (sums.count, sums.log_sum, sums.log_square_sum) == (3, 0.0, 0.0)
