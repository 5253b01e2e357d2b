"""Every input limit of POST /videos, walked at the limit (accepted) and one past it (refused in the error
envelope, with nothing written and nothing sent to the provider)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sorajobs.models.api import MAX_PROMPT_CHARS
from tests.conftest import World, assert_error, http_event, provider_calls

PROMPT = "A paper boat drifting down a rainy street"


def submit_event(body: dict[str, Any], headers: dict[str, str | None] | None = None) -> dict[str, Any]:
    return http_event("submit", body=body, headers={"idempotency-key": None, **(headers or {})})


def json_body_of(size: int) -> str:
    """A valid submit body of exactly `size` UTF-8 bytes: the longest prompt of 3-byte characters that fits (at most
    32,000 characters), then JSON whitespace."""
    room = size - len(json.dumps({"prompt": ""}))
    characters = min(room // 3, MAX_PROMPT_CHARS)
    body = json.dumps({"prompt": "€" * characters}, ensure_ascii=False)
    body += " " * (size - len(body.encode()))
    assert len(body.encode()) == size
    return body


def body_bytes(size: int) -> dict[str, Any]:
    event = submit_event({})
    event["body"] = json_body_of(size)
    return event


def base64_body_bytes(size: int) -> dict[str, Any]:
    event = submit_event({})
    event["body"] = base64.b64encode(json_body_of(size).encode()).decode()
    event["isBase64Encoded"] = True
    return event


def webhook_url_of(length: int) -> str:
    prefix = "https://hooks.example.com/"
    return prefix + "a" * (length - len(prefix))


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    status: int
    code: str
    event: Callable[[int], dict[str, Any]]  # a request whose limited quantity is the argument


LIMITS = [
    Limit("request body bytes", 1024 * 1024, 413, "payload_too_large", body_bytes),
    Limit("request body bytes, base64-encoded", 1024 * 1024, 413, "payload_too_large", base64_body_bytes),
    Limit("prompt characters", 32000, 422, "validation_error", lambda n: submit_event({"prompt": "a" * n})),
    Limit(
        "metadata keys",
        16,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT, "metadata": {f"key{i}": "v" for i in range(n)}}),
    ),
    Limit(
        "metadata key characters",
        64,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT, "metadata": {"k" * n: "v"}}),
    ),
    Limit(
        "metadata value characters",
        512,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT, "metadata": {"campaign": "v" * n}}),
    ),
    Limit(
        "metadata at its largest: 16 keys of 64 characters, values of 512",
        512,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT, "metadata": {f"{i:02d}".ljust(64, "k"): "v" * n for i in range(16)}}),
    ),
    Limit(
        "webhook_url characters",
        2048,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT, "webhook_url": webhook_url_of(n)}),
    ),
    Limit(
        "Idempotency-Key characters",
        255,
        422,
        "validation_error",
        lambda n: submit_event({"prompt": PROMPT}, headers={"idempotency-key": "k" * n}),
    ),
]


@pytest.mark.parametrize("limit", LIMITS, ids=[limit.name for limit in LIMITS])
def test_each_input_limit_accepts_the_limit_and_refuses_one_more(world: World, limit: Limit):
    refused = world.call("submit", limit.event(limit.limit + 1))

    assert_error(refused, limit.status, limit.code)
    assert world.table_items() == []
    assert provider_calls(world, "POST", "/videos") == 0

    accepted = world.call("submit", limit.event(limit.limit))

    assert accepted.status == 202, accepted.body
    assert world.stored_job(accepted.body["id"]) is not None
