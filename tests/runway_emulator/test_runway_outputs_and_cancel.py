"""Signed output URLs that expire, and DELETE /v1/tasks/{id}: cancelling an active task, deleting a finished one."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from local.runway_emulator import EmulatorServer, ManualClock
from tests.runway_emulator.support import API_KEY, URL_LIFETIME_SECONDS, runway_config


def create_task(client: RunwayML) -> str:
    return client.text_to_video.create(model="gen4.5", prompt_text="p", ratio="1280:720", duration=5).id


def output_url(client: RunwayML, task_id: str) -> str:
    task = client.tasks.retrieve(task_id)
    assert task.status == "SUCCEEDED"
    (url,) = task.output
    return url


def test_an_expired_output_url_is_refused_and_a_new_get_hands_out_a_fresh_one(
    client: RunwayML, clock: ManualClock, finish: Callable[[], None]
) -> None:
    task_id = create_task(client)
    finish()
    first = output_url(client, task_id)
    clock.advance(URL_LIFETIME_SECONDS - 1)
    assert httpx.get(first).status_code == 200

    clock.advance(1)
    expired = httpx.get(first)
    fresh = output_url(client, task_id)

    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code>" in expired.content
    assert fresh != first
    assert httpx.get(fresh).status_code == 200


def test_every_get_signs_a_new_url_even_at_the_same_instant(client: RunwayML, finish: Callable[[], None]) -> None:
    task_id = create_task(client)
    finish()

    assert output_url(client, task_id) != output_url(client, task_id)


def test_a_tampered_or_unsigned_output_url_is_refused(client: RunwayML, finish: Callable[[], None]) -> None:
    task_id = create_task(client)
    finish()
    url = output_url(client, task_id)

    assert httpx.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403


def test_cancelling_a_pending_task_answers_204_and_the_task_is_gone_and_refunded(
    client: RunwayML, server: EmulatorServer
) -> None:
    task_id = create_task(client)
    assert client.organization.retrieve().credit_balance == server.config.credit_balance - 60

    client.tasks.delete(task_id)

    with pytest.raises(runwayml.NotFoundError) as caught:
        client.tasks.retrieve(task_id)
    assert caught.value.body == {"error": "Could not find Task"}
    assert client.organization.retrieve().credit_balance == server.config.credit_balance
    assert server.task(task_id)["cancelled_from"] == "PENDING"
    assert server.request_log[-3:-1] == [("DELETE", f"/v1/tasks/{task_id}", 204), ("GET", f"/v1/tasks/{task_id}", 404)]


def test_a_cancelled_task_can_show_cancelled_for_a_while_and_a_running_one_is_not_refunded(clock: ManualClock) -> None:
    config = runway_config(cancelled_visible_seconds=30)
    with EmulatorServer(config, clock=clock) as server, RunwayML(api_key=API_KEY, base_url=server.base_url) as sdk:
        task_id = create_task(sdk)
        clock.advance(5)
        sdk.tasks.delete(task_id)
        cancelled = sdk.tasks.retrieve(task_id)
        clock.advance(30)

        assert cancelled.status == "CANCELLED"
        assert cancelled.cost.credits == 60  # it was RUNNING when cancelled: no refund
        with pytest.raises(runwayml.NotFoundError):
            sdk.tasks.retrieve(task_id)


def test_deleting_a_finished_task_removes_it_but_urls_handed_out_work_until_they_expire(
    client: RunwayML, server: EmulatorServer, clock: ManualClock, finish: Callable[[], None]
) -> None:
    task_id = create_task(client)
    finish()
    url = output_url(client, task_id)

    client.tasks.delete(task_id)

    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(task_id)
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.delete(task_id)
    assert httpx.get(url).status_code == 200
    clock.advance(URL_LIFETIME_SECONDS)
    assert httpx.get(url).status_code == 403
    assert server.stats()["deleted"] == 1


def test_unknown_task_ids_are_404_for_get_and_delete(client: RunwayML) -> None:
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve("00000000-0000-4000-8000-000000000000")
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.delete("00000000-0000-4000-8000-000000000000")
