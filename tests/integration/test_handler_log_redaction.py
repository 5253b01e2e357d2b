"""Real HTTP handlers with event logging on (POWERTOOLS_LOGGER_LOG_EVENT): no credential reaches the logs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import ModuleType

import pytest

from sorajobs.observability import REDACTED, logger
from tests.conftest import API_KEY, LambdaContext, http_event
from tests.handlers import import_handler
from tests.integration.test_webhooks_inbound import provider_event, render_to_the_end, signed_headers

BEARER_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyIsInNjb3BlIjoidmlkZW9zIn0.cmVhbC1sb29raW5nLXNpZ25hdHVyZQ"


def handler_with_event_logging(function_dir: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/<dir>/app.py freshly imported with POWERTOOLS_LOGGER_LOG_EVENT=true (read when it is decorated)."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    return import_handler(function_dir, f"logged_{function_dir}_app")


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert hasattr(handler, "setStream")
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def logged_events(output: str, route_key: str) -> list[dict]:
    records = [json.loads(line) for line in output.splitlines() if line]
    return [
        r["message"] for r in records if isinstance(r["message"], dict) and r["message"].get("routeKey") == route_key
    ]


def test_a_submit_with_event_logging_never_logs_the_bearer_token_or_the_provider_key(world, monkeypatch, log_output):
    handler = handler_with_event_logging("submit", monkeypatch)
    event = http_event("submit", headers={"authorization": f"Bearer {BEARER_TOKEN}", "idempotency-key": None})

    result = handler.lambda_handler(event, LambdaContext())

    assert result["statusCode"] == 202
    output = log_output.getvalue()
    (logged,) = logged_events(output, "POST /videos")  # the event was logged, as production would with the flag
    assert logged["headers"]["authorization"] == REDACTED
    assert logged["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "user-123"
    assert BEARER_TOKEN not in output
    assert BEARER_TOKEN.split(".")[2] not in output
    assert API_KEY not in output
    assert event["headers"]["authorization"] == f"Bearer {BEARER_TOKEN}"  # the handler's event is untouched


def test_a_provider_webhook_with_event_logging_never_logs_its_signature_or_the_secrets(world, monkeypatch, log_output):
    job_id = render_to_the_end(world)
    body = provider_event(world.stored_job(job_id).provider_video_id)
    headers = signed_headers(world, body)
    handler = handler_with_event_logging("provider_webhook", monkeypatch)

    result = handler.lambda_handler(
        http_event("provider_webhook", raw_body=body, owner=None, headers=headers), LambdaContext()
    )

    assert result["statusCode"] == 200
    output = log_output.getvalue()
    (logged,) = logged_events(output, "POST /provider-webhooks/openai")
    assert logged["headers"]["webhook-signature"] == REDACTED
    assert logged["headers"]["webhook-id"] == headers["webhook-id"]
    signature = headers["webhook-signature"].split(",", 1)[1]
    for secret in (signature, world.resources.provider_webhook_secret, world.resources.webhook_signing_secret, API_KEY):
        assert secret not in output
