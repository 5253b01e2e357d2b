"""A task's clock-driven life, as the runwayml SDK sees it, and the scenarios that steer it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from runwayml import RunwayML

from local.emulation.media import fixture_bytes
from local.runway_emulator import EmulatorServer, ManualClock, Scenario
from tests.runway_emulator.support import PNG_DATA_URI, START


def create_gen45(client: RunwayML, prompt: str = "a lighthouse at dawn") -> str:
    return client.text_to_video.create(model="gen4.5", prompt_text=prompt, ratio="1280:720", duration=5).id


def test_a_task_goes_pending_then_running_with_progress_then_succeeded_and_its_output_downloads(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    created = client.text_to_video.create(model="gen4.5", prompt_text="a lighthouse", ratio="1280:720", duration=5)
    seen = []
    for step in (0.0, 2.0, 2.5, 5.0, 2.5):
        clock.advance(step)
        task = client.tasks.retrieve(created.id)
        seen.append((task.status, getattr(task, "progress", None)))

    assert seen == [("PENDING", None), ("RUNNING", 0.0), ("RUNNING", 0.25), ("RUNNING", 0.75), ("SUCCEEDED", None)]
    done = client.tasks.retrieve(created.id)
    assert done.status == "SUCCEEDED"
    assert done.created_at == datetime.fromtimestamp(START, UTC)
    (url,) = done.output
    video = httpx.get(url)  # a signed URL: no Authorization header, like Runway's CDN links
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content == fixture_bytes("video")
    assert hashlib.sha256(video.content).hexdigest() == server.task(created.id)["content_sha256"]
    assert server.task(created.id)["downloads"] == 1


def test_create_returns_the_task_id_and_its_estimated_cost_which_becomes_the_cost(
    client: RunwayML, finish: Callable[[], None]
) -> None:
    created = client.text_to_video.create(model="gen4.5", prompt_text="p", ratio="720:1280", duration=5)
    pending = client.tasks.retrieve(created.id)
    finish()
    done = client.tasks.retrieve(created.id)

    assert created.estimated_cost.credits == 60  # gen4.5: 12 credits a second
    assert pending.status == "PENDING" and pending.estimated_cost.credits == 60
    assert done.status == "SUCCEEDED" and done.cost.credits == 60


def test_a_throttled_task_waits_in_throttled_before_it_runs(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    server.script_next(Scenario(pending_seconds=1, throttled_seconds=5, running_seconds=4))
    task_id = create_gen45(client)
    statuses = []
    for step in (0.5, 1.0, 4.0, 1.0, 4.0):
        clock.advance(step)
        statuses.append(client.tasks.retrieve(task_id).status)

    assert statuses == ["PENDING", "THROTTLED", "THROTTLED", "RUNNING", "SUCCEEDED"]


def test_a_safety_failure_fails_the_task_before_it_runs_and_refunds_it(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    server.script_next(Scenario.safety_failure("SAFETY.INPUT.TEXT"))
    task_id = create_gen45(client, "something moderation rejects")

    assert client.tasks.retrieve(task_id).status == "PENDING"
    clock.advance(2)
    failed = client.tasks.retrieve(task_id)
    assert failed.status == "FAILED"
    assert failed.failure_code == "SAFETY.INPUT.TEXT"
    assert failed.failure == "The prompt text did not pass content moderation."
    assert failed.cost.credits == 0
    assert client.organization.retrieve().credit_balance == server.config.credit_balance


def test_a_failure_with_a_code_comes_at_its_progress(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    server.script_next(Scenario(outcome="failed", failure_code="INTERNAL.BAD_OUTPUT.CODE01", fail_at_progress=0.5))
    task_id = create_gen45(client)

    clock.advance(2 + 4.9)
    running = client.tasks.retrieve(task_id)
    clock.advance(0.1)
    failed = client.tasks.retrieve(task_id)

    assert (running.status, running.progress) == ("RUNNING", 0.49)
    assert (failed.status, failed.failure_code) == ("FAILED", "INTERNAL.BAD_OUTPUT.CODE01")


def test_a_stuck_task_keeps_running_at_its_progress(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    server.script_next(Scenario(outcome="stuck", stuck_at_progress=0.3))
    task_id = create_gen45(client)

    clock.advance(3600)
    task = client.tasks.retrieve(task_id)

    assert (task.status, task.progress) == ("RUNNING", 0.3)


def test_scripted_scenarios_come_first_then_prompt_rules_then_the_default(
    client: RunwayML, server: EmulatorServer, clock: ManualClock
) -> None:
    server.add_rule(prompt_contains="[asset]", scenario=Scenario(outcome="failed", failure_code="ASSET.INVALID"))
    server.script_next(Scenario(running_seconds=1))
    scripted = create_gen45(client, "[asset] scripted wins")
    ruled = create_gen45(client, "[asset] by the rule")
    default = create_gen45(client, "plain")

    clock.advance(12)

    assert client.tasks.retrieve(scripted).status == "SUCCEEDED"
    assert client.tasks.retrieve(ruled).failure_code == "ASSET.INVALID"  # type: ignore[union-attr]
    assert client.tasks.retrieve(default).status == "SUCCEEDED"
    assert server.created_count == 3


def test_video_bytes_serves_an_mp4_of_exactly_that_size(
    client: RunwayML, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    server.script_next(Scenario(video_bytes=3 * 1024 * 1024 + 5))
    task_id = create_gen45(client)
    finish()

    body = httpx.get(client.tasks.retrieve(task_id).output[0]).content  # type: ignore[union-attr]

    assert len(body) == 3 * 1024 * 1024 + 5
    assert body.startswith(fixture_bytes("video"))
    assert hashlib.sha256(body).hexdigest() == server.task(task_id)["content_sha256"]


def test_image_to_video_takes_an_https_url_a_data_uri_or_first_and_last_frames(
    client: RunwayML, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    by_url = client.image_to_video.create(
        model="gen4_turbo", prompt_image="https://example.com/cat.png", ratio="1280:720", duration=5
    )
    by_data = client.image_to_video.create(
        model="gen4.5", prompt_image=PNG_DATA_URI, prompt_text="p", ratio="960:960", duration=4
    )
    frames = client.image_to_video.create(
        model="veo3.1",
        prompt_image=[
            {"position": "first", "uri": "https://example.com/a.png"},
            {"position": "last", "uri": PNG_DATA_URI},
        ],
        ratio="1920:1080",
        audio=False,
    )
    finish()

    assert by_url.estimated_cost.credits == 25  # gen4_turbo: 5 credits a second
    assert by_data.estimated_cost.credits == 48
    assert frames.estimated_cost.credits == 160  # veo3.1 without audio: 20 credits a second, 8 s by default
    assert [client.tasks.retrieve(t.id).status for t in (by_url, by_data, frames)] == ["SUCCEEDED"] * 3
    assert server.task(frames.id)["endpoint"] == "image_to_video"


def test_the_organization_reports_its_balance_tier_and_daily_usage(
    client: RunwayML, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    create_gen45(client)
    client.image_to_video.create(model="gen4_turbo", prompt_image="https://example.com/cat.png", ratio="1280:720")
    finish()

    organization = client.organization.retrieve()

    assert organization.credit_balance == server.config.credit_balance - 60 - 50
    assert organization.tier.max_monthly_credit_spend == server.config.max_monthly_credit_spend
    assert organization.tier.models["gen4_turbo"].max_daily_generations == 50
    assert {model: usage.daily_generations for model, usage in organization.usage.models.items()} == {
        "gen4.5": 1,
        "gen4_turbo": 1,
    }
