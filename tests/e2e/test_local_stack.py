"""The local stack end to end: real HTTP through the gateway, moto server, the emulator and the functions.

Time is manual on both sides (the functions' clock and the emulator's), and the scheduler and the store
poller are driven by hand, so nothing here sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from local.backend_clock import ManualClock
from local.devtoken import DevTokens
from local.emulator import EmulatorConfig
from local.emulator import ManualClock as EmulatorClock
from local.stack import LocalStack
from local.template import http_routes

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OWNER = "e2e-user"
HTTP_SAMPLES = sorted(
    path.stem for path in EVENTS.glob("*.json") if json.loads(path.read_text()).get("version") == "2.0"
)


@dataclass
class Clocks:
    backend: ManualClock
    emulator: EmulatorClock

    def advance(self, seconds: float) -> None:
        self.backend.advance(seconds)
        self.emulator.advance(seconds)


@pytest.fixture(scope="module")
def clocks() -> Clocks:
    return Clocks(backend=ManualClock(START), emulator=EmulatorClock(start=START.timestamp()))


@pytest.fixture(scope="module")
def stack(clocks: Clocks) -> Iterator[LocalStack]:
    with LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=5, render_seconds=60),
        emulator_clock=clocks.emulator,
        backend_clock=clocks.backend,
        background=False,
        provider_webhooks=False,  # sweep-driven here; tests/e2e/test_local_webhooks.py covers the webhooks
    ) as local:
        yield local


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.mint_token(OWNER, ['users'])}"}
    with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=30) as client:
        yield client


def submit(api: httpx.Client, prompt: str = "A paper boat drifting down a rainy street") -> dict[str, Any]:
    response = api.post("/videos", json={"prompt": prompt, "seconds": "4"})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def complete(stack: LocalStack, clocks: Clocks, api: httpx.Client, job_id: str) -> dict[str, Any]:
    """Moves time past the render, then runs what the schedule and the queue would run."""
    clocks.advance(120)
    stack.scheduler.run_once()
    stack.store_poller.drain()
    job: dict[str, Any] = api.get(f"/videos/{job_id}").json()
    return job


def table_item_count(stack: LocalStack) -> int:
    assert stack.resources is not None
    return int(stack.client("dynamodb").scan(TableName=stack.resources.table_name, Select="COUNT")["Count"])


# --- the job's whole life over HTTP ---------------------------------------------------------------


def test_submitted_job_completes_when_time_passes_and_the_sweep_and_store_step_run(stack, clocks, api):
    job = submit(api)
    assert job["status"] == "queued"

    clocks.advance(120)
    sweep = stack.scheduler.run_once()
    assert sweep["outcomes"] == {"polled": 1}
    waiting = api.get(f"/videos/{job['id']}").json()
    assert (waiting["status"], waiting["progress"], waiting["ready"]) == ("in_progress", 100, False)

    batches = stack.store_poller.drain()
    assert batches == [{"batchItemFailures": []}]
    done = api.get(f"/videos/{job['id']}").json()
    assert done["status"] == "completed" and done["ready"] is True
    assert done["video"]["content_url"] == f"/videos/{job['id']}/content"
    assert stack.store_poller.drain() == []  # the message was deleted


def test_content_redirects_to_a_presigned_url_whose_download_matches_the_sha256(stack, clocks, api):
    job = complete(stack, clocks, api, submit(api)["id"])

    redirect = api.get(f"/videos/{job['id']}/content", follow_redirects=False)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{stack.aws_endpoint_url}/") and "X-Amz-Signature=" in location

    with httpx.Client(timeout=30) as anonymous:  # presigned: no API token travels to S3
        download = anonymous.get(location)
    assert download.status_code == 200
    digest = hashlib.sha256(download.content).hexdigest()
    assert digest == job["video"]["sha256"]
    assert stack.emulator is not None
    assert digest == stack.emulator.video(job["provider_video_id"])["content_sha256"]
    assert len(download.content) == job["video"]["bytes"]


# --- the authorizer and routing, as API Gateway does them -----------------------------------------


def _other_secret_token() -> str:
    return DevTokens(secret="another-secret-that-is-long-enough-for-hs256").mint(OWNER)


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        pytest.param(None, "unauthorized", id="missing"),
        pytest.param("Bearer not-a-jwt", "invalid_token", id="malformed"),
        pytest.param("Bearer {other_secret}", "invalid_token", id="wrong-signature"),
        pytest.param("Bearer {expired}", "token_expired", id="expired"),
        pytest.param("Bearer {wrong_audience}", "invalid_token", id="wrong-audience"),
        pytest.param("Bearer {wrong_issuer}", "invalid_token", id="wrong-issuer"),
        pytest.param("Bearer {no_exp}", "invalid_token", id="no-exp"),
    ],
)
def test_bad_tokens_get_401_in_the_error_shape_saying_why_and_nothing_is_written(stack, authorization, code):
    tokens = stack.tokens
    authorization = (authorization or "").format(
        other_secret=_other_secret_token(),
        expired=stack.mint_token(OWNER, expires_in=-60),
        wrong_audience=stack.mint_token(OWNER, extra_claims={"aud": "someone-else"}),
        wrong_issuer=stack.mint_token(OWNER, extra_claims={"iss": "https://evil.example"}),
        no_exp=jwt.encode({"sub": OWNER, "iss": tokens.issuer, "aud": tokens.audience}, tokens.secret, "HS256"),
    )
    items_before, created_before = table_item_count(stack), stack.emulator.created_count
    events_before = len(stack.gateway.recent_events)
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.post(f"{stack.gateway_url}/videos", json={"prompt": "never submitted"}, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code and response.json()["error"]["details"] == []
    assert response.headers["www-authenticate"].startswith("Bearer")  # what API Gateway's authorizer sends too
    assert len(stack.gateway.recent_events) == events_before  # the function was never invoked
    assert table_item_count(stack) == items_before
    assert stack.emulator.created_count == created_before


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("DELETE", "/videos"), ("GET", "/videos/a/b/c"), ("GET", "/videos/"), ("PUT", "/stats")],
)
def test_unknown_routes_get_404_route_not_found_from_the_default_route_with_or_without_a_token(
    stack, api, method, path
):
    without_token = httpx.request(method, f"{stack.gateway_url}{path}")
    with_token = api.request(method, path)

    for response in (without_token, with_token):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "route_not_found"
        assert stack.gateway.recent_events[-1]["routeKey"] == "$default"


def test_an_expired_token_says_when_it_expired_and_what_to_do(stack):
    token = stack.mint_token(OWNER, expires_in=-60)

    response = httpx.get(f"{stack.gateway_url}/videos", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"
    assert "get a new one" in response.json()["error"]["message"]
    assert 'error_description="the token has expired"' in response.headers["www-authenticate"]


def test_options_without_cors_origins_is_404_in_the_error_shape(stack):
    response = httpx.options(
        f"{stack.gateway_url}/videos",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 404 and response.json()["error"]["code"] == "route_not_found"
    assert "access-control-allow-origin" not in response.headers


def test_openapi_document_needs_no_token(stack):
    response = httpx.get(f"{stack.gateway_url}/openapi.json")

    assert response.status_code == 200
    assert "/videos" in response.json()["paths"]


def test_the_docs_page_is_served_through_the_gateway_compressed_to_browsers(stack):
    browser = httpx.get(f"{stack.gateway_url}/docs", headers={"Accept-Encoding": "gzip"})
    plain = httpx.get(f"{stack.gateway_url}/docs", headers={"Accept-Encoding": "identity"})

    for response in (browser, plain):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert "SwaggerUIBundle" in response.text and '"operationId": "createVideo"' in response.text
    assert browser.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers


def test_gateway_route_table_equals_the_template_routes(stack):
    assert sorted(stack.gateway.routes.entries()) == sorted(http_routes())


def test_every_template_route_reaches_its_function(stack, api):
    for method, path, function_id, _ in http_routes():
        concrete = path.replace("{id}", "job_00000000000000000000beef")
        response = api.request(method, concrete, json={} if method == "POST" else None)
        event = stack.gateway.recent_events[-1]
        assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"], (method, path)
        assert event["routeKey"] == f"{method} {path}" and event["rawPath"] == concrete, function_id


def test_list_claims_reach_the_function_rendered_like_api_gateway(stack):
    token = stack.mint_token("e2e-admin", [stack.admin_group, "ops"])

    response = httpx.get(f"{stack.gateway_url}/stats", headers={"Authorization": f"Bearer {token}"})

    claims = stack.gateway.recent_events[-1]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["cognito:groups"] == f"[{stack.admin_group} ops]"
    assert claims["sub"] == "e2e-admin" and claims["exp"].isdigit()
    assert response.json()["scope"] == "all"


def test_a_body_that_is_not_utf8_reaches_the_function_base64_encoded(stack, api):
    body = b"\xff\xfe\x00binary"

    api.post("/videos", content=body, headers={"content-type": "application/octet-stream"})

    event = stack.gateway.recent_events[-1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


# --- the events the stack builds look like events/*.json ------------------------------------------


def assert_same_shape(actual: Any, sample: Any, where: str = "event") -> None:
    """Same keys (headers and claims may add some) and the same JSON types, all the way down."""
    if isinstance(sample, dict):
        assert isinstance(actual, dict), where
        if where.endswith((".headers", ".claims", ".attributes")):
            assert set(sample) <= set(actual), f"{where} lacks {sorted(set(sample) - set(actual))}"
        else:
            assert set(actual) == set(sample), f"{where} differs in {sorted(set(actual) ^ set(sample))}"
        for key, value in sample.items():
            assert_same_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(sample, list):
        assert isinstance(actual, list), where
        for item in actual:
            assert_same_shape(item, sample[0], f"{where}[]")
    else:
        assert type(actual) is type(sample), f"{where}: {type(actual).__name__} is not {type(sample).__name__}"


@pytest.mark.parametrize("name", HTTP_SAMPLES)
def test_gateway_event_has_the_shape_of_the_sample_event(stack, name):
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    headers = {key: value for key, value in sample["headers"].items() if key not in ("host", "authorization")}
    if "authorizer" in sample["requestContext"]:
        headers["authorization"] = f"Bearer {stack.mint_token(OWNER, ['users'])}"
    query = f"?{sample['rawQueryString']}" if sample["rawQueryString"] else ""

    httpx.request(
        sample["requestContext"]["http"]["method"],
        f"{stack.gateway_url}{sample['rawPath']}{query}",
        headers=headers,
        content=sample.get("body"),
    )

    event = stack.gateway.recent_events[-1]
    assert_same_shape(event, sample)
    for key in ("routeKey", "rawPath", "rawQueryString", "queryStringParameters", "pathParameters", "body"):
        assert event.get(key) == sample.get(key), key
    assert event["requestContext"]["http"]["method"] == sample["requestContext"]["http"]["method"]
    assert event["requestContext"]["http"]["path"] == sample["rawPath"]


def test_scheduler_event_has_the_shape_of_the_sample_event(stack):
    sample = json.loads((EVENTS / "poll_sora_status.json").read_text())

    assert_same_shape(stack.scheduler.build_event(), sample)


def test_store_poller_event_has_the_shape_of_the_sample_event(stack):
    sample = json.loads((EVENTS / "store_video.json").read_text())
    sqs = stack.client("sqs")
    queue_url = stack.store_poller.queue_url
    sqs.send_message(QueueUrl=queue_url, MessageBody=sample["Records"][0]["body"])
    received = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"], MessageAttributeNames=["All"])
    messages = received["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])

    event = stack.store_poller.build_event(messages)

    assert_same_shape(event, sample)
    assert event["Records"][0]["eventSourceARN"].endswith(":sora-jobs-store-video")


def test_a_second_stack_in_the_same_process_is_refused(stack):
    with pytest.raises(RuntimeError, match="already running"):
        LocalStack(background=False).start()

    assert httpx.get(f"{stack.gateway_url}/openapi.json").status_code == 200  # the first one is untouched


# --- every provider, through the gateway ----------------------------------------------------------


@pytest.mark.parametrize("provider", ["fal", "runway"])
def test_a_job_on_each_native_provider_goes_from_submit_to_a_downloaded_video(stack, clocks, api, provider):
    submitted = api.post("/videos", json={"prompt": "A lighthouse at dawn", "provider": provider})
    assert submitted.status_code == 202, submitted.text
    job = complete(stack, clocks, api, submitted.json()["id"])
    assert (job["provider"], job["status"], job["ready"]) == (provider, "completed", True)

    location = api.get(f"/videos/{job['id']}/content", follow_redirects=False).headers["location"]
    with httpx.Client(timeout=30) as anonymous:
        download = anonymous.get(location)
    assert hashlib.sha256(download.content).hexdigest() == job["video"]["sha256"]
    assert download.content[4:8] == b"ftyp"


def test_the_models_listing_names_every_provider_the_local_stack_serves(api):
    listing = api.get("/models").json()

    assert {provider["name"] for provider in listing["providers"]} == {"openai", "fal", "runway"}
