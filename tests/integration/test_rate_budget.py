"""The provider's request budget, shared by every function: a token bucket per kind of call in DynamoDB."""

from __future__ import annotations

from local.emulator import Fault
from tests.conftest import FIRST_LOOK_DUE_SECONDS, http_event, provider_calls


def test_a_bucket_never_grants_more_than_its_limit_in_any_minute(world):
    world.use_settings(provider_retrieve_rpm=30)
    budget = world.services.rate_budget
    granted_at = []

    for second in range(240):
        for _ in range(3):  # callers ask three times a second, far beyond the limit
            if budget.take("retrieve").granted:
                granted_at.append(second)
        world.advance(1)

    for start in range(0, 240 - 60):
        assert sum(1 for t in granted_at if start <= t < start + 60) <= 30
    assert len(granted_at) >= 4 * 27  # and it keeps granting close to the limit


def test_create_and_retrieve_have_separate_limits(world):
    world.use_settings(provider_create_rpm=20, provider_retrieve_rpm=20)
    budget = world.services.rate_budget
    while budget.take("retrieve").granted:
        pass

    assert budget.take("create").granted == 1


def test_a_pause_stops_every_caller_until_it_has_passed(world):
    world.use_settings(provider_retrieve_rpm=600)
    budget = world.services.rate_budget

    budget.pause("retrieve", 30)

    refused = budget.take("retrieve")
    assert refused.granted == 0 and 29 <= refused.retry_after_seconds <= 30
    world.advance(31)
    assert budget.take("retrieve").granted == 1


def test_a_provider_429_pauses_retrieves_for_every_function(world):
    world.use_settings(provider_retrieve_rpm=600)
    first = world.submit().body["id"]
    second = world.submit().body["id"]
    world.advance(20)
    world.emulator.inject(Fault(operation="retrieve", status=429, retry_after=40, code="rate_limit_exceeded", times=1))
    world.sora_status(first)
    calls = provider_calls(world, "GET", "/v1/videos/")

    response = world.sora_status(second)
    world.sweep()

    assert response.status == 200 and int(response.headers["retry-after"]) >= 39
    assert provider_calls(world, "GET", "/v1/videos/") == calls


def test_sora_status_with_the_budget_spent_answers_the_stored_job_with_retry_after(world):
    world.use_settings(provider_retrieve_rpm=12)  # a burst of 1
    first = world.submit().body["id"]
    second = world.submit().body["id"]
    world.advance(20)
    world.sora_status(first)
    calls = provider_calls(world, "GET", "/v1/videos/")

    response = world.call("sora_status", http_event("sora_status", job_id=second))

    assert response.status == 200
    assert response.body["status"] == "queued"
    assert int(response.headers["retry-after"]) >= 1
    assert provider_calls(world, "GET", "/v1/videos/") == calls


def test_a_submit_with_the_create_budget_spent_waits_as_pending_and_the_sweep_sends_it_later(world):
    world.use_settings(provider_create_rpm=12)  # a burst of 1, then one every 6 s
    first = world.submit(prompt="first").body
    second = world.submit(prompt="second").body

    assert first["status"] == "queued" and second["status"] == "pending"
    world.advance(7)
    world.sweep()
    assert world.stored_job(second["id"]).status == "queued"
    assert world.emulator.created_count == 2


def test_the_sweep_leaves_due_jobs_for_later_when_the_retrieve_budget_is_spent(world):
    world.use_settings(provider_retrieve_rpm=24)  # a burst of 2
    job_ids = [world.submit(prompt=f"clip {n}").body["id"] for n in range(5)]
    world.advance(FIRST_LOOK_DUE_SECONDS)

    result = world.sweep()

    assert result["outcomes"] == {"polled": 2}
    assert provider_calls(world, "GET", "/v1/videos/") == 2
    statuses = sorted(world.stored_job(job_id).status for job_id in job_ids)
    assert statuses == ["in_progress", "in_progress", "queued", "queued", "queued"]  # 3 left due for later


def test_two_callers_that_read_the_same_bucket_state_cannot_both_spend_it(world):
    world.use_settings(provider_retrieve_rpm=12)  # a bucket of one request
    budget = world.services.rate_budget
    now = world.clock.now()
    seen_by_first = budget._read("retrieve")
    seen_by_second = budget._read("retrieve")  # both read before either writes, in the same millisecond

    assert budget._write("retrieve", seen_by_first, 0.0, now) is True
    assert budget._write("retrieve", seen_by_second, 0.0, now) is False


def test_a_sweep_takes_from_the_budget_only_what_it_polls(world):
    world.use_settings(provider_retrieve_rpm=120, sweep_concurrency=8)  # a bucket of 12
    world.submit()
    world.advance(FIRST_LOOK_DUE_SECONDS)

    world.sweep()

    assert world.services.rate_budget.take("retrieve", 20).granted == 11
