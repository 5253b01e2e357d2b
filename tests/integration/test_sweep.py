"""The scheduled sweep: due jobs only, leases, stuck jobs, pending submits, store re-requests, its deadline."""

from __future__ import annotations

import threading

from local.emulator import Fault, Scenario
from tests.conftest import FIRST_LOOK_DUE_SECONDS, provider_calls


def test_the_sweep_finishes_jobs_nobody_is_watching(world):
    job_ids = [world.submit(prompt=f"clip {n}").body["id"] for n in range(3)]

    for _ in range(6):
        world.advance(20)
        world.sweep()
    world.drain_store_queue()

    assert {world.stored_job(job_id).status for job_id in job_ids} == {"completed"}


def test_the_sweep_polls_only_jobs_that_are_due(world):
    world.submit()
    world.sweep()

    assert provider_calls(world, "GET", "/v1/videos/") == 0


def test_a_job_leased_by_another_sweep_is_skipped(world):
    job_id = world.submit().body["id"]
    world.advance(FIRST_LOOK_DUE_SECONDS)
    assert world.services.jobs.claim(job_id, world.clock.now(), lease_seconds=60) is not None

    result = world.sweep()

    assert result["outcomes"] == {"skipped": 1}
    assert provider_calls(world, "GET", "/v1/videos/") == 0


def test_a_job_with_no_progress_for_the_stuck_limit_fails_with_timeout(world):
    world.emulator.script_next(Scenario(outcome="stuck", stuck_at_progress=40))
    job_id = world.submit().body["id"]
    for _ in range(20):  # 20 minutes of sweeps
        world.advance(60)
        world.sweep()

    job = world.stored_job(job_id)
    assert job.status == "failed"
    assert job.error.code == "timeout"
    assert job.next_poll_at is None


def test_a_job_older_than_the_maximum_age_fails_with_timeout(world):
    world.use_settings(max_job_age_seconds=120)
    world.emulator.script_next(Scenario(render_seconds=3600))  # slow but steadily progressing
    job_id = world.submit().body["id"]
    for _ in range(4):
        world.advance(60)
        world.sweep()

    job = world.stored_job(job_id)
    assert job.status == "failed" and job.error.code == "timeout"
    assert "maximum age" in job.error.message


def test_a_timed_out_job_whose_last_look_the_budget_denies_stays_due_until_a_look_is_granted(world):
    world.use_settings(max_job_age_seconds=120, provider_retrieve_rpm=1)
    world.emulator.script_next(Scenario(render_seconds=3600))
    job_id = world.submit().body["id"]
    world.advance(180)
    world.services.rate_budget.take("retrieve")  # spend the only request

    denied = world.wiring.sweeper.sweep_job(job_id)
    waiting = world.stored_job(job_id)
    world.advance(60)
    judged = world.wiring.sweeper.sweep_job(job_id)

    assert denied == "skipped" and waiting.is_unfinished
    assert judged == "timed_out" and world.stored_job(job_id).error.code == "timeout"


def test_a_pending_job_is_submitted_by_the_sweep_exactly_once(world):
    world.emulator.inject(Fault(operation="create", status=503, times=1))
    job_id = world.submit().body["id"]
    world.advance(40)

    world.sweep()
    world.sweep()

    assert world.stored_job(job_id).status == "queued"
    assert world.emulator.created_count == 1


def test_a_lost_store_request_is_sent_again_by_the_sweep(world):
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    world.sqs.purge_queue(QueueUrl=world.resources.queue_url)  # the request is lost

    world.advance(11 * 60)
    result = world.sweep()
    world.drain_store_queue()

    assert result["outcomes"] == {"store_requested": 1}
    assert world.stored_job(job_id).status == "completed"


def test_the_sweep_stops_before_its_time_runs_out(world):
    world.use_settings(sweep_concurrency=1, sweep_stop_margin_seconds=10)
    for n in range(5):
        world.submit(prompt=f"clip {n}")
    world.advance(FIRST_LOOK_DUE_SECONDS)
    provider = world.services.provider("openai")
    real_retrieve = provider.retrieve

    def slow_retrieve(video_id):
        world.clock.advance(10)  # each poll takes 10 s of the invocation's time
        return real_retrieve(video_id)

    provider.retrieve = slow_retrieve

    result = world.sweep(timeout_seconds=35)

    assert result["stopped_early"] is True
    assert result["outcomes"] == {"polled": 3}  # 35 s → 25 → 15 → 5 s left: under the 10 s margin


def test_the_sweep_polls_with_bounded_concurrency(world):
    world.use_settings(sweep_concurrency=2)
    for n in range(6):
        world.submit(prompt=f"clip {n}")
    world.advance(FIRST_LOOK_DUE_SECONDS)
    provider = world.services.provider("openai")
    real_retrieve = provider.retrieve
    active, peak, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def counting_retrieve(video_id):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active == 2:
                release.set()
        release.wait(timeout=5)
        try:
            return real_retrieve(video_id)
        finally:
            with lock:
                active -= 1

    provider.retrieve = counting_retrieve

    result = world.wiring.sweeper.run(lambda: 60.0)

    assert result.outcomes["polled"] == 6
    assert peak == 2


def test_two_racing_sweeps_poll_each_job_once(world):
    for n in range(8):
        world.submit(prompt=f"clip {n}")
    world.advance(FIRST_LOOK_DUE_SECONDS)
    barrier = threading.Barrier(2)
    reports = []

    def run_sweep():
        barrier.wait()
        reports.append(world.wiring.sweeper.run(lambda: 60.0))

    threads = [threading.Thread(target=run_sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    polled = sum(report.outcomes["polled"] for report in reports)
    assert polled == 8
    assert provider_calls(world, "GET", "/v1/videos/") == 8


def test_the_continuous_sweep_keeps_polling_through_its_minute_and_sees_completion_within_seconds(world):
    world.use_settings(sweep_mode="continuous", sweep_continuous_seconds=50, sweep_pass_interval_seconds=2)
    world.emulator.script_next(Scenario(queue_seconds=5, render_seconds=80))  # a typical sora-2 4 s clip
    job_id = world.submit().body["id"]
    started = world.clock.now()

    first = world.sweep()
    world.advance(60 - (world.clock.now() - started).total_seconds())  # EventBridge starts the next minute
    world.sweep()

    job = world.stored_job(job_id)
    assert job.awaiting_storage
    detected_after = (job.store_requested_at - started).total_seconds()
    assert 85 <= detected_after <= 85 + 10  # the provider finished at 85 s
    assert first["passes"] >= 20


def test_the_continuous_sweep_stops_before_the_invocation_times_out(world):
    world.use_settings(sweep_mode="continuous", sweep_continuous_seconds=50, sweep_stop_margin_seconds=10)
    started = world.clock.now()

    result = world.sweep(timeout_seconds=30)

    assert (world.clock.now() - started).total_seconds() <= 20
    assert result["passes"] >= 5


def test_the_one_shot_sweep_makes_a_single_pass(world):
    world.submit()
    started = world.clock.now()

    result = world.sweep()

    assert result["passes"] == 1
    assert world.clock.now() == started


def test_more_due_jobs_than_one_invocation_can_take_are_left_for_the_next_oldest_first(world):
    world.use_settings(sweep_concurrency=1, sweep_stop_margin_seconds=10)
    job_ids = []
    for n in range(6):
        job_ids.append(world.submit(prompt=f"clip {n}").body["id"])
        world.advance(1)
    world.advance(FIRST_LOOK_DUE_SECONDS)
    provider = world.services.provider("openai")
    real_retrieve = provider.retrieve
    polled = []

    def slow_retrieve(video_id):
        polled.append(video_id)
        world.clock.advance(10)
        return real_retrieve(video_id)

    provider.retrieve = slow_retrieve
    by_due_time = sorted((world.stored_job(job_id) for job_id in job_ids), key=lambda job: job.next_poll_at)

    first = world.sweep(timeout_seconds=35)
    second = world.sweep(timeout_seconds=35)

    assert first["outcomes"] == {"polled": 3} and second["outcomes"]["polled"] >= 3
    # Oldest due first; the rest waited one invocation, and none starved.
    assert polled[:6] == [job.provider_video_id for job in by_due_time]
