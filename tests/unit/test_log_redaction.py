"""The logger masks credentials in every record it writes: messages, extra keys, logged events and errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from pydantic import BaseModel

from sorajobs.observability import REDACTED, logger, redact

BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API_KEY = "sk-proj-4f9c2e1b7a3d8e6f0c5b9a2d"
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SECRETS = (
    BEARER_TOKEN,
    WEBHOOK_SECRET,
    API_KEY,
    SIGNATURE,
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "4f9c2e1b7a3d8e6f0c5b9a2d",
)

CapturedLogs = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """What the logger's own handler writes (the JSON lines Lambda would ship), one dict per record."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert hasattr(handler, "setStream")
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        handler.setStream(previous)


def assert_no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_headers_and_credential_keys_in_extra_are_masked_while_ordinary_fields_stay(captured_logs):
    logger.info(
        "Request seen",
        extra={
            "job_id": "job_5f0c",
            "headers": {
                "Authorization": f"Bearer {BEARER_TOKEN}",
                "webhook-signature": SIGNATURE,
                "content-type": "application/json",
            },
            "api_key": API_KEY,
            "settings": {"webhook_secret": WEBHOOK_SECRET, "password": "hunter2-hunter2", "region": "us-east-1"},
        },
    )

    (record,) = captured_logs()
    assert_no_secret_in(json.dumps(record))
    assert "hunter2" not in json.dumps(record)
    assert record["job_id"] == "job_5f0c"
    assert record["message"] == "Request seen"
    assert record["headers"] == {
        "Authorization": REDACTED,
        "webhook-signature": REDACTED,
        "content-type": "application/json",
    }
    assert record["api_key"] == REDACTED
    assert record["settings"] == {"webhook_secret": REDACTED, "password": REDACTED, "region": "us-east-1"}


@pytest.mark.parametrize("header", ["authorization", "Authorization", "AUTHORIZATION", "Proxy-Authorization"])
def test_the_authorization_header_is_masked_in_any_case(captured_logs, header):
    logger.info("headers", extra={"headers": {header: "Basic dXNlcjpwYXNzd29yZA==", "x-request-id": "req-1"}})

    (record,) = captured_logs()
    assert record["headers"] == {header: REDACTED, "x-request-id": "req-1"}


def test_credentials_are_masked_inside_free_text(captured_logs):
    logger.warning(
        f"Provider said: Incorrect API key provided: {API_KEY}; secret {WEBHOOK_SECRET}; "
        f"header Authorization: Bearer {BEARER_TOKEN}; signature {SIGNATURE}",
        extra={"error": f"could not verify with {WEBHOOK_SECRET}", "job_id": "job_1"},
    )

    (record,) = captured_logs()
    assert_no_secret_in(json.dumps(record))
    assert "Incorrect API key provided: sk-[REDACTED]" in record["message"]
    assert f"Bearer {REDACTED}" in record["message"]
    assert record["error"] == "could not verify with whsec_[REDACTED]"
    assert record["job_id"] == "job_1"


def test_a_logged_event_is_masked_and_the_event_itself_is_left_alone(captured_logs):
    event = {
        "routeKey": "POST /videos",
        "headers": {"authorization": f"Bearer {BEARER_TOKEN}", "idempotency-key": "key-1"},
        "cookies": ["session=abc123"],
        "body": json.dumps({"prompt": "a boat", "note": f"my key is {API_KEY}"}),
        "multiValueHeaders": {"Authorization": [f"Bearer {BEARER_TOKEN}"]},
    }
    original = json.loads(json.dumps(event))

    logger.info(event)

    (record,) = captured_logs()
    assert_no_secret_in(json.dumps(record))
    assert "abc123" not in json.dumps(record)
    assert record["message"]["routeKey"] == "POST /videos"
    assert record["message"]["headers"] == {"authorization": REDACTED, "idempotency-key": "key-1"}
    assert event == original


def test_records_of_child_loggers_are_masked_too(captured_logs):
    child = Logger(child=True)

    child.info("Webhook signed", extra={"webhook-signature": SIGNATURE, "event_id": "evt_1"})

    (record,) = captured_logs()
    assert record["webhook-signature"] == REDACTED
    assert record["event_id"] == "evt_1"


def test_exception_text_and_stack_trace_are_masked(captured_logs):
    try:
        raise RuntimeError(f"provider refused key {API_KEY}")
    except RuntimeError:
        logger.exception("Unhandled error", extra={"job_id": "job_2"})

    (record,) = captured_logs()
    assert_no_secret_in(json.dumps(record))
    assert "RuntimeError: provider refused key sk-[REDACTED]" in record["exception"]
    assert record["job_id"] == "job_2"


class _Credentials(BaseModel):
    client_id: str
    client_secret: str


def test_models_and_unknown_objects_are_masked_by_their_fields_and_text():
    masked = redact(
        {
            "credentials": _Credentials(client_id="app-1", client_secret=WEBHOOK_SECRET),
            "model": _Credentials(client_id="app-2", client_secret="plain"),
            "note": ValueError(f"bad {API_KEY}"),
            "count": 3,
            "ok": True,
            "nothing": None,
        }
    )

    assert masked == {
        "credentials": REDACTED,
        "model": {"client_id": "app-2", "client_secret": REDACTED},
        "note": "bad sk-[REDACTED]",
        "count": 3,
        "ok": True,
        "nothing": None,
    }


@pytest.mark.parametrize(
    "text",
    [
        "job_5f0c2b queued for sora-2 at 720x1280",
        "https://hooks.example.com/sora?task-id=12345678",
        "evt_9c2e0d1f and video_68d7 and risk-assessment-ok",
        "the v1 API, version 1,2,3",
    ],
)
def test_ordinary_text_is_left_unchanged(text):
    assert redact(text) == text
