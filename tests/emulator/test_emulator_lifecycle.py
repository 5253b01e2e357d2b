"""The clock-driven video lifecycle and the scenarios that steer it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest
from openai import OpenAI

from local.emulator import EmulatorConfig, EmulatorServer, ManualClock, Scenario, SystemClock


def test_queued_then_in_progress_with_rising_progress_then_completed(client: OpenAI, clock: ManualClock) -> None:
    video = client.videos.create(prompt="p")
    seen = []
    for step in (1.0, 1.0, 2.5, 2.5, 2.5, 2.25, 0.25):
        clock.advance(step)
        current = client.videos.retrieve(video.id)
        seen.append((current.status, current.progress))

    assert seen == [
        ("queued", 0),
        ("in_progress", 0),
        ("in_progress", 24),
        ("in_progress", 49),
        ("in_progress", 74),
        ("in_progress", 96),
        ("completed", 100),
    ]
    done = client.videos.retrieve(video.id)
    assert done.completed_at == video.created_at + 12
    assert done.expires_at == done.completed_at + 3600
    assert done.error is None


def test_retrieve_advertises_a_poll_interval_only_while_unfinished(client: OpenAI, finish: Callable[[], None]) -> None:
    video = client.videos.create(prompt="p")

    pending = client.videos.with_raw_response.retrieve(video.id)
    finish()
    done = client.videos.with_raw_response.retrieve(video.id)

    assert pending.headers["openai-poll-after-ms"] == "2000"
    assert "openai-poll-after-ms" not in done.headers


def test_failed_scenario_fails_at_the_chosen_progress(
    client: OpenAI, server: EmulatorServer, clock: ManualClock
) -> None:
    server.script_next(
        Scenario(outcome="failed", fail_code="moderation_blocked", fail_message="Blocked.", fail_at_progress=33)
    )
    video = client.videos.create(prompt="p")

    clock.advance(2 + 3)
    assert client.videos.retrieve(video.id).status == "in_progress"
    clock.advance(1)
    failed = client.videos.retrieve(video.id)

    assert (failed.status, failed.progress) == ("failed", 33)
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("moderation_blocked", "Blocked.")
    assert failed.expires_at is None


def test_stuck_scenario_stays_in_progress_forever(client: OpenAI, server: EmulatorServer, clock: ManualClock) -> None:
    server.script_next(Scenario(outcome="stuck", stuck_at_progress=42))
    video = client.videos.create(prompt="p")

    clock.advance(10_000_000)
    stuck = client.videos.retrieve(video.id)

    assert (stuck.status, stuck.progress) == ("in_progress", 42)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)


def test_scenario_timings_override_the_config(client: OpenAI, server: EmulatorServer, clock: ManualClock) -> None:
    server.script_next(Scenario(queue_seconds=0, render_seconds=100))
    video = client.videos.create(prompt="p")

    assert video.status == "in_progress"
    clock.advance(50)
    assert client.videos.retrieve(video.id).progress == 49


@pytest.mark.parametrize("status", ["expired", "weird_unknown"])
def test_status_override_reports_a_literal_status(
    client: OpenAI, server: EmulatorServer, http: httpx.Client, status: str
) -> None:
    server.script_next(Scenario(status_override=status))
    video = client.videos.create(prompt="p")

    assert client.videos.retrieve(video.id).status == status
    assert http.get(f"/v1/videos/{video.id}").json()["status"] == status


def test_create_and_poll_returns_when_complete(server: EmulatorServer) -> None:
    server.script_next(Scenario(queue_seconds=0, render_seconds=0))
    with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        video = sdk.videos.create_and_poll(prompt="instant")

    assert (video.status, video.progress) == ("completed", 100)


def test_scripted_scenarios_apply_in_order(client: OpenAI, server: EmulatorServer, clock: ManualClock) -> None:
    server.script_next(Scenario(outcome="failed"))
    server.script_next(Scenario(outcome="stuck"))
    first, second, third = (client.videos.create(prompt=f"p{n}") for n in range(3))
    clock.advance(60)

    statuses = [client.videos.retrieve(v.id).status for v in (first, second, third)]

    assert statuses == ["failed", "in_progress", "completed"]


def test_rule_by_prompt_applies_to_matching_creates(client: OpenAI, server: EmulatorServer, clock: ManualClock) -> None:
    server.add_rule(prompt_contains="[fail]", scenario=Scenario(outcome="failed", fail_code="internal_error"))
    doomed = client.videos.create(prompt="this one will [fail] later")
    fine = client.videos.create(prompt="this one is fine")
    clock.advance(60)

    assert client.videos.retrieve(doomed.id).error.code == "internal_error"  # type: ignore[union-attr]
    assert client.videos.retrieve(fine.id).status == "completed"


def test_scripted_scenario_wins_over_rules(client: OpenAI, server: EmulatorServer, clock: ManualClock) -> None:
    server.add_rule(prompt_contains="x", scenario=Scenario(outcome="failed"))
    server.script_next(Scenario(outcome="stuck"))
    video = client.videos.create(prompt="x")
    clock.advance(60)

    assert client.videos.retrieve(video.id).status == "in_progress"


def test_rejecting_scenario_answers_400_and_creates_nothing(client: OpenAI, server: EmulatorServer) -> None:
    server.script_next(Scenario(reject_code="moderation_blocked"))

    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="something disallowed")

    assert caught.value.code == "moderation_blocked"
    assert caught.value.type == "invalid_request_error"
    assert "moderation" in caught.value.message
    assert server.created_count == 0
    assert client.videos.create(prompt="next one is fine").status == "queued"


def test_default_clock_is_the_system_clock() -> None:
    with EmulatorServer() as server, OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as sdk:
        video = sdk.videos.create(prompt="real time")

    assert isinstance(server.clock, SystemClock)
    assert video.status == "queued"
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")


def test_default_scenario_comes_from_the_config(clock: ManualClock) -> None:
    config = EmulatorConfig(default_scenario=Scenario(outcome="stuck"))
    with EmulatorServer(config, clock=clock) as server, OpenAI(base_url=server.base_url, api_key="k") as sdk:
        video = sdk.videos.create(prompt="p")
        clock.advance(3600)

        assert sdk.videos.retrieve(video.id).status == "in_progress"


@pytest.mark.parametrize(
    "kwargs",
    [{"outcome": "exploded"}, {"fail_at_progress": 100}, {"video_bytes": -1}, {"queue_seconds": -1}],
)
def test_invalid_scenarios_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Scenario(**kwargs)  # type: ignore[arg-type]
