"""The error shape has no holes, and each message says what to do (issue 17): what no route matches, bodies that
are not JSON, the download of a job that will never have a video, a replay right after another, a prompt within
its character limit whose bytes are many."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from local.emulator import Scenario
from sorajobs.dal.webhooks import DeliveryPage, WebhookRepository
from sorajobs.models.webhooks import WebhookDelivery
from tests.conftest import World, assert_error, http_event
from tests.integration.test_webhooks_inbound import post_webhook, provider_event

HOOK = "https://hooks.example.com/sora"


def default_route_event(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What API Gateway hands the `$default` route: any request no route matched, with no authorizer run."""
    event = http_event("read_api_get", owner=None, headers=headers)
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event.pop("pathParameters", None)
    return event


# --- what no route matches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nope"), ("DELETE", "/videos"), ("GET", "/videos/a/b"), ("OPTIONS", "/videos")]
)
def test_what_no_route_matches_is_404_route_not_found_pointing_at_the_route_list(world, method, path):
    response = world.call("read_api", default_route_event(method, path))

    assert_error(response, 404, "route_not_found")
    message = response.body["error"]["message"]
    assert f"No route {method} {path}" in message and "/openapi.json" in message


def test_the_default_route_never_runs_a_route_of_the_read_function_without_the_authorizer(world):
    # API Gateway sends `$default` only what matched no route, but the function must not rely on its matching.
    response = world.call("read_api", default_route_event("GET", "/models"))

    assert_error(response, 404, "route_not_found")


def test_a_cors_preflight_on_a_stack_without_origins_says_how_to_allow_one(world):
    headers = {"origin": "https://app.example.com", "access-control-request-method": "POST"}

    response = world.call("read_api", default_route_event("OPTIONS", "/videos", headers))

    assert_error(response, 404, "route_not_found")
    assert "CorsAllowedOrigins" in response.body["error"]["message"]


# --- bodies that are not JSON -------------------------------------------------------------------

MULTIPART = (
    '--fuzz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nA paper boat drifting down a rainy street\r\n'
    "--fuzz--\r\n"
)


def submit_with(world: World, raw_body: str, content_type: str | None, *, base64_body: bool = False) -> Any:
    event = http_event("submit", raw_body=raw_body, headers={"content-type": content_type, "idempotency-key": None})
    if base64_body:
        event["body"] = base64.b64encode(raw_body.encode()).decode()
        event["isBase64Encoded"] = True
    return world.call("submit", event)


@pytest.mark.parametrize("base64_body", [False, True])
def test_a_multipart_form_creates_no_job_but_a_415(world, base64_body):
    response = submit_with(world, MULTIPART, "multipart/form-data; boundary=fuzz", base64_body=base64_body)

    assert_error(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in response.body["error"]["message"]
    assert world.table_items() == []


def test_json_sent_as_a_form_as_curl_d_does_gets_415_naming_the_header_not_422_about_a_field(world):
    response = submit_with(world, json.dumps({"prompt": "A paper boat"}), "application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")
    assert response.body["error"]["details"] == [{"content_type": "application/x-www-form-urlencoded"}]
    assert "--json" in response.body["error"]["message"]
    assert world.table_items() == []


def test_a_json_body_without_a_content_type_is_read_as_json(world):
    response = submit_with(world, json.dumps({"prompt": "A paper boat"}), None)

    assert response.status == 202


def test_provider_webhooks_read_raw_bytes_whatever_their_content_type(world):
    body = provider_event("video_unknown")

    response = post_webhook(world, body, {"content-type": "text/plain"})

    assert_error(response, 401, "invalid_signature")  # the signature is checked, the media type is not


def test_a_validation_error_names_the_field_in_its_message(world):
    response = world.call("submit", http_event("submit", body={"prompt": ""}, headers={"idempotency-key": None}))

    assert_error(response, 422, "validation_error")
    assert response.body["error"]["message"].startswith("The request is not valid: body.prompt: ")


# --- the download of a job that has no video ----------------------------------------------------


def test_the_content_of_a_failed_job_is_409_no_video_saying_why_and_how_to_retry(world):
    world.emulator.add_rule(prompt_contains="forbidden", scenario=Scenario(reject_code="moderation_blocked"))
    job_id = world.submit(prompt="something forbidden").body["error"]["details"][0]["job_id"]

    response = world.call("read_api", http_event("read_api_content", job_id=job_id))

    assert_error(response, 409, "no_video")
    message = response.body["error"]["message"]
    assert "failed (moderation_blocked" in message and '"resubmit": true' in message and "not ready" not in message
    assert response.body["error"]["details"] == [{"job_id": job_id, "status": "failed"}]


def test_the_content_of_an_unfinished_job_is_409_not_ready_saying_how_far_it_is(world):
    job_id = world.submit().body["id"]

    response = world.call("read_api", http_event("read_api_content", job_id=job_id))

    assert_error(response, 409, "not_ready")
    assert "the job is queued at 0 %" in response.body["error"]["message"]


# --- a replay right after another ---------------------------------------------------------------


class LaggingLogIndex(WebhookRepository):
    """The delivery log's index as DynamoDB may serve it right after a write: each delivery as it was before
    its last save (a global secondary index is eventually consistent)."""

    def __init__(self, real: WebhookRepository) -> None:
        self._real = real
        self._before: dict[str, WebhookDelivery] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def save(self, before: WebhookDelivery, after: WebhookDelivery) -> WebhookDelivery:
        saved = self._real.save(before, after)
        self._before[before.id] = before
        return saved

    def list_for_job(self, job_id: str, *, limit: int, cursor: str | None = None) -> DeliveryPage:
        page = self._real.list_for_job(job_id, limit=limit, cursor=cursor)
        stale = [self._before.get(delivery.id, delivery) for delivery in page.deliveries]
        return DeliveryPage(deliveries=stale, next_cursor=page.next_cursor)


def test_a_second_replay_right_after_a_first_is_accepted_while_the_log_index_lags(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    world.services.webhooks = LaggingLogIndex(world.services.webhooks)  # type: ignore[misc]
    replay = http_event("webhooks_api_replay", job_id=job_id, raw_body="")

    first = world.call("webhooks_api", replay)
    second = world.call("webhooks_api", replay)
    world.deliver_webhooks()

    assert (first.status, second.status) == (202, 202), second.body
    assert [delivery["replays"] for delivery in second.body["deliveries"]] == [2]
    assert len(world.receivers.at(HOOK)) == 2  # the original, and the second replay's run (the first's was overtaken)


# --- a prompt within its character limit, whatever its bytes ------------------------------------


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_a_prompt_of_32000_astral_characters_is_accepted_however_it_is_encoded(world, ensure_ascii):
    prompt = "\U0001f30a" * 32000  # 128,000 bytes as UTF-8, 384,000 as the \\ud83c\\udf0a escapes json.dumps writes
    body = json.dumps({"prompt": prompt}, ensure_ascii=ensure_ascii)

    response = submit_with(world, body, "application/json")

    assert response.status == 202, response.body
    assert response.body["prompt"] == prompt


def test_a_body_over_the_limit_is_413_saying_its_size_and_the_limit(world):
    response = submit_with(world, json.dumps({"prompt": "a" * 2_000_000}), "application/json")

    assert_error(response, 413, "payload_too_large")
    assert "2000014 bytes" in response.body["error"]["message"] and "1048576" in response.body["error"]["message"]
