"""The webhook contract's corners: the deployment-wide URL is checked before every delivery like a job's own,
and the retry schedule is a setting (a short one reaches the dead-letter queue in seconds)."""

from __future__ import annotations

from sorajobs.config import Settings
from sorajobs.models.webhooks import WebhookDestination

DEPLOYMENT_HOOK = "https://ops.example.com/all-jobs"


def _deployment_attempts(world, job_id: str) -> list:
    deliveries = world.services.webhooks.all_for_job(job_id)
    return [
        attempt
        for delivery in deliveries
        if delivery.destination is WebhookDestination.DEPLOYMENT
        for attempt in delivery.attempts
    ]


def test_a_deployment_url_over_plain_http_is_refused_at_delivery_and_nothing_is_sent(world):
    url = "http://127.0.0.1:9/all-jobs"
    world.use_settings(webhook_url=url)
    job_id = world.submit().body["id"]

    world.deliver_webhooks()

    assert world.receivers.received == []
    attempts = _deployment_attempts(world, job_id)
    assert attempts and all(attempt.status_code is None and "https" in attempt.error for attempt in attempts)


def test_a_deployment_url_whose_host_resolves_to_a_private_address_is_refused_at_delivery(world):
    world.dns["ops.example.com"] = ["10.0.0.7"]
    world.use_settings(webhook_url=DEPLOYMENT_HOOK)
    job_id = world.submit().body["id"]

    world.deliver_webhooks()

    assert world.receivers.at(DEPLOYMENT_HOOK) == []
    attempts = _deployment_attempts(world, job_id)
    assert attempts and "10.0.0.7" in attempts[0].error


def test_a_short_retry_schedule_reaches_the_dead_letter_queue_in_seconds(world):
    world.use_settings(webhook_url=DEPLOYMENT_HOOK, webhook_retry_delays_seconds="1,1")
    world.receivers.script(DEPLOYMENT_HOOK, *([503] * 10))
    job_id = world.submit().body["id"]

    world.deliver_webhooks()
    for _ in range(2):
        world.advance(1)
        world.deliver_webhooks()

    dead = [record for record in world.dead_letters() if record["job_id"] == job_id]
    assert [len(record["attempts"]) for record in dead] == [3]


def test_the_retry_schedule_is_read_from_the_environment_and_bounded():
    settings = Settings.from_env({"JOBS_TABLE_NAME": "jobs", "WEBHOOK_RETRY_DELAYS_SECONDS": "1, 2,3"})

    assert settings.webhook_retry_delays_seconds == (1, 2, 3)
    for bad in ("", "36001", "-1"):
        try:
            Settings.model_validate({"jobs_table_name": "jobs", "webhook_retry_delays_seconds": bad})
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_a_deployment_url_over_plain_http_is_a_configuration_problem_when_a_function_starts():
    settings = Settings(
        jobs_table_name="jobs", openai_base_url="https://gw.example/v1", webhook_url="http://x.example/h"
    )

    assert settings.configuration_problems() == [
        "WEBHOOK_URL 'http://x.example/h' must use https: no event is delivered to it."
    ]
