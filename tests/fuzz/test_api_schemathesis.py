"""schemathesis against the OpenAPI document the API serves, through the local gateway.

Owner A's jobs are made first: one completed (video stored, webhooks delivered), one queued, one reset.
Then every operation is fuzzed as owner B (positive and negative data, bodies sometimes labelled with
another media type), with path ids that are now random, now A's real job ids. Pass conditions:

- never a 5xx;
- every 4xx a function answers is the one error envelope (`ErrorResponse`);
- responses conform to the document: status code, content type and body schema;
- B never sees or changes A's jobs: for A's ids B gets exactly what a missing job gets, A's ids and
  prompts appear in no other B response, and afterwards A's jobs, webhook log and provider calls are
  as they were.

The provider webhook route (no JWT) gets its own fuzzing, signed and unsigned. The provider budgets
are off here, so that B's submits reach the provider instead of all waiting as `pending`.

`FUZZ_EXAMPLES` sets the examples per operation (default 25); `FUZZ_EXAMPLES=1000` is a long run.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.backend_clock import ManualClock
from local.emulator import EmulatorConfig
from local.emulator import ManualClock as EmulatorClock
from local.stack import LocalStack
from sorajobs.logic.provider_webhooks import InboundOutcome
from sorajobs.models.api import ErrorResponse
from sorajobs.signing import parse_webhook_secrets, sign
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
OWNER_A = "fuzz-owner-a"
OWNER_B = "fuzz-owner-b"
# Both clocks are manual; signed provider webhooks are stamped with the backend's.
START = datetime.now(UTC).replace(microsecond=0)
# A job id of the real shape that no job has: B's answer for A's ids must be the answer for this one.
MISSING_JOB_ID = "job_" + "0" * 24
# The local gateway's own answers, where no function runs, in the error shape: a token the authorizer refuses (the
# document names the bearer scheme, so schemathesis also tries requests without it), a body over 10 MB. A path that
# matches no route (an id holding "/") reaches the $default route's function.
GATEWAY_ANSWERS = {401: {"unauthorized", "invalid_token", "token_expired"}, 413: {"payload_too_large"}}
OTHER_MEDIA_TYPES = [
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=fuzz",
    "application/json; charset=utf-16",
]
SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class OwnerA:
    jobs: list[dict[str, Any]]
    prompts: list[str]
    webhook_logs: dict[str, Any]
    provider_requests: int

    @property
    def ids(self) -> list[str]:
        return [job["id"] for job in self.jobs]

    @property
    def provider_video_ids(self) -> list[str]:
        return [job["provider_video_id"] for job in self.jobs if job["provider_video_id"]]


@dataclass
class FuzzTarget:
    stack: LocalStack
    backend_clock: ManualClock
    a: OwnerA
    a_headers: dict[str, str]
    b_headers: dict[str, str]


def provider_requests_for(stack: LocalStack, provider_video_ids: list[str]) -> int:
    assert stack.emulator is not None
    return sum(1 for _method, path, _status in stack.emulator.request_log if any(v in path for v in provider_video_ids))


def create_owner_a_jobs(stack: LocalStack, clocks: tuple[ManualClock, EmulatorClock], receiver: Receiver) -> OwnerA:
    """One completed job (video stored, webhooks delivered), one queued and one reset."""
    backend, emulator = clocks
    prompts = [f"owner A's private prompt #{n}: a lighthouse keeper's secret diary" for n in range(3)]
    token = stack.mint_token(OWNER_A, ["users"])
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:

        def submit(prompt: str) -> str:
            response = api.post("/videos", json={"prompt": prompt, "seconds": "4", "webhook_url": receiver.url})
            assert response.status_code == 202, response.text
            job_id: str = response.json()["id"]
            return job_id

        ids = [submit(prompts[0])]
        backend.advance(120)
        emulator.advance(120)
        stack.scheduler.run_once()
        stack.store_poller.drain()
        ids += [submit(prompts[1]), submit(prompts[2])]
        assert api.post(f"/videos/{ids[2]}/reset", json={"resubmit": False}).status_code == 200
        stack.stream_poller.drain()
        stack.webhook_poller.drain()
        jobs = [api.get(f"/videos/{job_id}").json() for job_id in ids]
        logs = {job_id: api.get(f"/videos/{job_id}/webhooks").json() for job_id in ids}
    assert [job["status"] for job in jobs] == ["completed", "queued", "reset"], jobs
    assert all(log["data"] for log in logs.values()) and receiver.bodies
    a = OwnerA(jobs=jobs, prompts=prompts, webhook_logs=logs, provider_requests=0)
    a.provider_requests = provider_requests_for(stack, a.provider_video_ids)
    return a


@pytest.fixture(scope="module")
def target() -> Iterator[FuzzTarget]:
    backend, emulator = ManualClock(START), EmulatorClock(start=START.timestamp())
    receiver = Receiver()
    try:
        with LocalStack(
            emulator_config=EmulatorConfig(queue_seconds=5, render_seconds=60),
            emulator_clock=emulator,
            backend_clock=backend,
            background=False,
            provider_webhooks=False,
            parameters={"ProviderCreateRequestsPerMinute": "0", "ProviderRetrieveRequestsPerMinute": "0"},
        ) as stack:
            yield FuzzTarget(
                stack=stack,
                backend_clock=backend,
                a=create_owner_a_jobs(stack, (backend, emulator), receiver),
                a_headers={"Authorization": f"Bearer {stack.mint_token(OWNER_A, ['users'])}"},
                b_headers={"Authorization": f"Bearer {stack.mint_token(OWNER_B, ['users'])}"},
            )
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def api_schema(target: FuzzTarget) -> schemathesis.BaseSchema:
    generation = {"database": "none", "deterministic": True}
    # The document's examples are checked by tests/integration/test_openapi_contract.py; schemathesis cannot run
    # them in a test that draws from `data` too.
    phases = {"examples": {"enabled": False}}
    config = schemathesis.Config.from_dict({"seed": 20261121, "generation": generation, "phases": phases})
    return schemathesis.openapi.from_url(f"{target.stack.gateway_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def function_answered(stack: LocalStack, request_id: str | None) -> bool:
    """Whether a function produced the response: the gateway gives every invocation its request id."""
    return any(event["requestContext"]["requestId"] == request_id for event in list(stack.gateway.recent_events))


def assert_error_envelope_on_4xx(status: int, body: bytes) -> None:
    if 400 <= status < 500:
        ErrorResponse.model_validate_json(body)


@schema.parametrize()
@schema.given(data=st.data())
@FUZZ_SETTINGS
def test_owner_b_gets_no_5xx_only_the_error_envelope_and_never_owner_a_jobs(
    case: schemathesis.Case[Any], data: st.DataObject, target: FuzzTarget
) -> None:
    a_job_id = None
    if "id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="use one of owner A's job ids"):
        a_job_id = data.draw(st.sampled_from(target.a.ids), label="owner A's job id")
        case.path_parameters["id"] = a_job_id

    headers = dict(target.b_headers)
    if case.method == "POST" and data.draw(st.booleans(), label="label the body with another media type"):
        headers["Content-Type"] = data.draw(st.sampled_from(OTHER_MEDIA_TYPES), label="media type")

    response = case.call(headers=headers, timeout=30)

    assert response.status_code < 500, response.text
    request_id = (response.headers.get("apigw-requestid") or [""])[0]  # schemathesis lists each header's values
    if not function_answered(target.stack, request_id):
        assert response.json()["error"]["code"] in GATEWAY_ANSWERS[response.status_code], response.text
        return
    case.validate_response(response, checks=SCHEMA_CHECKS)
    assert_error_envelope_on_4xx(response.status_code, response.content)
    for prompt in target.a.prompts:
        assert prompt not in response.text
    if a_job_id is None:
        for job_id in target.a.ids:
            assert job_id not in response.text
        return
    # Exactly the answer a job that does not exist gets: 404, or the same 4xx when the request itself is
    # invalid (checked first). Its message may echo the id B sent.
    assert 400 <= response.status_code < 500, response.text
    case.path_parameters["id"] = MISSING_JOB_ID
    missing = case.call(headers=headers, timeout=30)
    assert response.status_code == missing.status_code
    assert json.loads(response.text.replace(a_job_id, MISSING_JOB_ID)) == missing.json()


def test_owner_a_jobs_are_unchanged_after_the_fuzzing(target: FuzzTarget) -> None:
    with httpx.Client(base_url=target.stack.gateway_url, headers=target.a_headers, timeout=30) as api:
        jobs = [api.get(f"/videos/{job_id}").json() for job_id in target.a.ids]
        logs = {job_id: api.get(f"/videos/{job_id}/webhooks").json() for job_id in target.a.ids}

    assert jobs == target.a.jobs
    assert logs == target.a.webhook_logs  # no replay of A's events either
    assert provider_requests_for(target.stack, target.a.provider_video_ids) == target.a.provider_requests


# --- the provider webhook route: no JWT, a Standard Webhooks signature ------------------------------

HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "_-.,= ", max_size=80).map(str.strip)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def provider_event_bodies(draw: st.DrawFn, video_ids: list[str]) -> bytes:
    """Bodies from junk bytes through broken events to well-formed ones (which reach the event store)."""
    kind = draw(st.sampled_from(["bytes", "json", "broken event", "event"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    event: dict[str, Any] = {
        "id": draw(st.text(string.ascii_letters, min_size=1, max_size=20)),
        "object": "event",
        "type": draw(st.sampled_from(["video.completed", "video.failed", "video.created"])),
        "created_at": draw(st.integers(0, 2**40)),
        "data": {"id": draw(st.sampled_from(video_ids) | st.text(min_size=1, max_size=256))},
    }
    if kind == "broken event":
        for key in draw(st.lists(st.sampled_from(sorted(event)), min_size=1, max_size=2, unique=True)):
            event[key] = draw(JSON_VALUES)
    return json.dumps(event).encode()


@given(data=st.data())
@FUZZ_SETTINGS
def test_provider_webhooks_never_5xx_and_unsigned_ones_change_nothing(target: FuzzTarget, data: st.DataObject) -> None:
    stack = target.stack
    assert stack.resources is not None
    video_ids = [*target.a.provider_video_ids, "video_unknown"]
    body = data.draw(provider_event_bodies(video_ids), label="body")
    signed = data.draw(st.booleans(), label="signed")
    if signed:
        short = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=40)
        huge = st.integers(2048, 8000).map(lambda size: "msg_" + "x" * size)  # past DynamoDB's key size
        webhook_id = data.draw(short | huge, label="webhook-id")
        secrets = parse_webhook_secrets(stack.resources.provider_webhook_secret)
        now = int(target.backend_clock.now().timestamp())
        headers = sign(secrets, msg_id=webhook_id, timestamp=now, body=body)
    else:
        names = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"])
        headers = data.draw(st.dictionaries(names, HEADER_TEXT, max_size=4), label="headers")
    items_before = stack.client("dynamodb").scan(TableName=stack.resources.table_name, Select="COUNT")["Count"]

    response = httpx.post(f"{stack.gateway_url}/provider-webhooks/openai", content=body, headers=headers, timeout=30)

    assert response.status_code < 500, response.text
    assert function_answered(stack, response.headers.get("apigw-requestid"))
    assert_error_envelope_on_4xx(response.status_code, response.content)
    if response.status_code == 200:
        assert response.json()["received"] is True
        assert response.json()["outcome"] in set(InboundOutcome)
    if not signed:
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
        items_after = stack.client("dynamodb").scan(TableName=stack.resources.table_name, Select="COUNT")["Count"]
        assert items_after == items_before
