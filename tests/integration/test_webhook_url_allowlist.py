"""WEBHOOK_URL_ALLOWED_HOSTS: a job's webhook_url must name a listed host, at submit and again at delivery."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error, http_event, provider_calls

ALLOWED = ("hooks.example.com", ".example.org")


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/sora",
        "https://example.org/sora",
        "https://hooks.example.com.attacker.net/sora",
        "https://93.184.216.34/sora",
    ],
)
def test_a_webhook_url_off_the_allowlist_gets_422_and_writes_nothing(world, url):
    world.use_settings(webhook_url_allowed_hosts=ALLOWED)

    response = world.submit(webhook_url=url)

    assert_error(response, 422, "webhook_url_not_allowed")
    assert response.body["error"]["details"] == [{"loc": ["body", "webhook_url"]}]
    assert world.table_items() == []
    assert provider_calls(world, "POST", "/videos") == 0


@pytest.mark.parametrize("url", ["https://hooks.example.com/sora", "https://team.example.org/sora"])
def test_a_webhook_url_on_the_allowlist_is_accepted_and_delivered_to(world, url):
    world.use_settings(webhook_url_allowed_hosts=ALLOWED)

    response = world.submit(webhook_url=url)
    world.deliver_webhooks()

    assert response.status == 202
    assert response.body["webhook_url"] == url
    assert world.receivers.at(url)


def test_a_url_accepted_before_the_allowlist_was_narrowed_is_not_called_at_delivery(world):
    url = "https://other.example.com/sora"
    job_id = world.submit(webhook_url=url).body["id"]
    world.use_settings(webhook_url_allowed_hosts=ALLOWED)

    world.deliver_webhooks()

    assert world.receivers.received == []
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert "allowed webhook hosts" in log[0]["attempts"][0]["error"]
