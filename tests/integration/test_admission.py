"""Admission: provider slots (FIFO), the per-owner active-job limit, estimated costs and the daily spend limit."""

from __future__ import annotations

from local.emulator import Scenario
from tests.conftest import OTHER_OWNER, assert_error, http_event


def _job_items(world):
    return [item for item in world.table_items() if item["pk"]["S"].startswith("JOB#")]


def test_submits_beyond_the_provider_slots_wait_as_pending_and_go_first_come_first_served(world):
    world.use_settings(max_jobs_in_flight=2)
    world.emulator.script_next(Scenario(render_seconds=20))  # A finishes first
    jobs = []
    for name in "abcd":
        jobs.append(world.submit(prompt=f"clip {name}").body)
        world.advance(1)
    a, b, c, d = jobs

    assert [job["status"] for job in (a, b, c, d)] == ["queued", "queued", "pending", "pending"]
    assert world.emulator.created_count == 2
    world.sweep()
    assert world.emulator.created_count == 2  # no slot is free yet

    world.advance(27)  # A is done at the provider: its slot frees up
    world.sweep()

    assert world.stored_job(a["id"]).awaiting_storage
    assert world.stored_job(c["id"]).status == "queued"
    assert world.stored_job(d["id"]).status == "pending"
    assert world.emulator.created_count == 3
    assert world.services.jobs.totals(None).in_flight == 2


def test_the_in_flight_count_returns_to_zero_when_jobs_finish(world):
    world.use_settings(max_jobs_in_flight=5)
    job_ids = [world.submit(prompt=f"clip {n}").body["id"] for n in range(3)]
    for _ in range(5):
        world.advance(20)
        world.sweep()
    world.drain_store_queue()

    assert {world.stored_job(job_id).status for job_id in job_ids} == {"completed"}
    assert world.services.jobs.totals(None).in_flight == 0


def test_an_owner_at_the_active_job_limit_gets_429_with_retry_after_and_nothing_is_written(world):
    world.use_settings(max_active_jobs_per_owner=2)
    world.submit()
    world.submit()
    items = _job_items(world)

    response = world.submit()

    assert_error(response, 429, "too_many_active_jobs")
    assert int(response.headers["retry-after"]) > 0
    assert _job_items(world) == items
    assert world.emulator.created_count == 2
    assert world.submit(owner=OTHER_OWNER).status == 202


def test_a_finished_job_frees_its_place_under_the_active_job_limit(world):
    world.use_settings(max_active_jobs_per_owner=1)
    world.emulator.script_next(Scenario(outcome="failed", fail_at_progress=1))
    world.submit()
    world.advance(70)
    world.sweep()

    assert world.submit().status == 202


def test_each_job_records_its_estimated_cost_and_stats_sum_them(world):
    cheap = world.submit(model="sora-2", seconds=8).body
    pricey = world.submit(model="sora-2-pro", seconds=12, size="1792x1024").body

    assert cheap["estimated_cost_usd"] == 0.80
    assert pricey["estimated_cost_usd"] == 6.00
    stats = world.call("read_api", http_event("read_api_stats")).body
    assert stats["estimated_cost_usd"] == 6.80


def test_a_resubmitted_attempt_adds_its_cost(world):
    world.emulator.script_next(Scenario(outcome="failed", fail_at_progress=1))
    job_id = world.submit(seconds=4).body["id"]
    world.advance(70)
    world.sweep()

    reset = world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": True}))

    assert reset.body["attempt"] == 2 and reset.body["estimated_cost_usd"] == 0.80


def test_a_job_the_provider_refused_at_create_counts_no_cost(world):
    world.emulator.add_rule(prompt_contains="forbidden", scenario=Scenario(reject_code="moderation_blocked"))
    world.submit(seconds=8)  # $0.80, accepted

    refused = world.submit(prompt="something forbidden", seconds=12)

    assert_error(refused, 422, "moderation_blocked")
    job = world.stored_job(refused.body["error"]["details"][0]["job_id"])
    assert job.status == "failed" and job.estimated_cost_cents == 0
    stats = world.call("read_api", http_event("read_api_stats")).body
    assert stats["counts"]["failed"] == 1 and stats["estimated_cost_usd"] == 0.80


def test_a_job_cancelled_or_reset_before_it_reached_the_provider_counts_no_cost(world):
    world.use_settings(max_jobs_in_flight=1)
    world.submit(seconds=8)  # $0.80, holds the one slot
    waiting = [world.submit(seconds=12).body for _ in range(2)]  # each $1.20, pending without a create
    assert [job["status"] for job in waiting] == ["pending", "pending"]

    cancelled = world.call("reset", http_event("cancel", job_id=waiting[0]["id"]))
    reset = world.call("reset", http_event("reset", job_id=waiting[1]["id"], body={"resubmit": False}))

    assert cancelled.body["estimated_cost_usd"] == 0 and reset.body["estimated_cost_usd"] == 0
    stats = world.call("read_api", http_event("read_api_stats")).body
    assert stats["estimated_cost_usd"] == 0.80


def test_a_failed_create_whose_outcome_is_unknown_keeps_its_cost(world):
    world.emulator.stop()  # the create's answer never comes: it may have been made, and paid for

    response = world.submit(seconds=8)

    assert response.body["status"] == "pending"
    assert world.call("read_api", http_event("read_api_stats")).body["estimated_cost_usd"] == 0.80


def test_the_daily_spend_limit_refuses_a_job_that_would_exceed_it_and_writes_nothing(world):
    world.use_settings(daily_spend_limit_usd=2.00)
    assert world.submit(seconds=12).status == 202  # $1.20
    items = _job_items(world)

    response = world.submit(seconds=12)  # would make $2.40

    assert_error(response, 429, "daily_spend_limit_reached")
    assert _job_items(world) == items
    assert world.submit(seconds=8).status == 202  # $2.00 exactly is allowed
    assert world.submit(owner=OTHER_OWNER, seconds=12).status == 202


def test_the_daily_spend_limit_starts_again_the_next_day(world):
    world.use_settings(daily_spend_limit_usd=1.00)
    world.submit(seconds=8)
    assert world.submit(seconds=8).status == 429

    world.advance(24 * 3600)

    assert world.submit(seconds=8).status == 202
