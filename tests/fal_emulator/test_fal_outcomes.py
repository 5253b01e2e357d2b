"""What a request ends with, as fal answers it: validation errors (422, found by the model app after the queue
accepted the input), model errors, cancellation, and the keys and files around them."""

from __future__ import annotations

import httpx
import pytest

from local.fal_emulator import FalEmulatorServer, ManualClock, Scenario
from tests.fal_emulator.conftest import (
    FAL_KEY,
    HAILUO_I2V,
    KLING_T2V,
    PROCESSING_SECONDS,
    QUEUE_SECONDS,
    VEO3,
    config,
    submit,
)

FINISH = QUEUE_SECONDS + PROCESSING_SECONDS


def test_an_invalid_input_is_queued_then_answers_fal_422(http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http, HAILUO_I2V, prompt=7, duration="8", resolution="768P")
    assert submitted["status"] == "IN_QUEUE"
    clock.advance(QUEUE_SECONDS)  # the model app sees the input once a runner takes it
    status = http.get(submitted["status_url"])
    assert status.status_code == 200
    assert status.json()["status"] == "COMPLETED"
    assert status.json()["error_type"] == "string_type"

    result = http.get(submitted["response_url"])
    assert result.status_code == 422
    assert result.headers["x-fal-retryable"] == "false"
    assert result.json() == {
        "detail": [
            {
                "loc": ["body", "prompt"],
                "msg": "Input should be a valid string",
                "type": "string_type",
                "url": "https://docs.fal.ai/errors/#string_type",
                "input": 7,
            },
            {
                "loc": ["body", "image_url"],
                "msg": "Field required",
                "type": "missing",
                "url": "https://docs.fal.ai/errors/#missing",
                "input": {"prompt": 7, "duration": "8", "resolution": "768P"},
            },
            {
                "loc": ["body", "duration"],
                "msg": "Input should be '6' or '10'",
                "type": "one_of",
                "url": "https://docs.fal.ai/errors/#one_of",
                "ctx": {"expected": ["6", "10"]},
                "input": "8",
            },
        ]
    }


def test_number_bounds_and_unknown_fields(http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http, KLING_T2V, prompt="x", cfg_scale=1.5, unknown_field=True)
    clock.advance(QUEUE_SECONDS)
    assert http.get(submitted["response_url"]).json()["detail"] == [
        {
            "loc": ["body", "cfg_scale"],
            "msg": "Input should be less than or equal to 1",
            "type": "less_than_equal",
            "url": "https://docs.fal.ai/errors/#less_than_equal",
            "ctx": {"le": 1.0},
            "input": 1.5,
        }
    ]


@pytest.mark.parametrize(
    ("error_type", "status", "loc", "retryable"),
    [
        ("content_policy_violation", 422, ["body", "prompt"], "false"),
        ("internal_server_error", 500, ["body"], "true"),
        ("generation_timeout", 504, ["body"], "true"),
    ],
)
def test_a_failed_request_answers_its_model_error(
    server: FalEmulatorServer,
    http: httpx.Client,
    clock: ManualClock,
    error_type: str,
    status: int,
    loc: list[str],
    retryable: str,
) -> None:
    server.script_next(Scenario(outcome="failed", error_type=error_type))
    submitted = submit(http, VEO3, prompt="something flagged")
    clock.advance(FINISH)
    polled = http.get(submitted["status_url"]).json()
    assert (polled["status"], polled["error"], polled["error_type"]) == (
        "COMPLETED",
        f"Invalid status code: {status}",
        error_type,
    )
    result = http.get(submitted["response_url"])
    assert result.status_code == status
    assert result.headers["x-fal-retryable"] == retryable
    [entry] = result.json()["detail"]
    assert (entry["type"], entry["loc"], entry["url"]) == (error_type, loc, f"https://docs.fal.ai/errors/#{error_type}")


def test_cancel_a_queued_request(http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http)
    cancelled = http.put(submitted["cancel_url"])
    assert (cancelled.status_code, cancelled.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    status = http.get(submitted["status_url"]).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "client_cancelled")
    result = http.get(submitted["response_url"])
    assert result.status_code == 499
    assert result.headers["x-fal-error-type"] == "client_cancelled"
    assert result.json()["error_type"] == "client_cancelled"
    again = http.put(submitted["cancel_url"])
    assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
    clock.advance(FINISH)
    assert http.get(submitted["response_url"]).status_code == 499


def test_cancel_a_completed_request(http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http)
    clock.advance(FINISH)
    cancelled = http.put(submitted["cancel_url"])
    assert (cancelled.status_code, cancelled.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert http.get(submitted["response_url"]).status_code == 200


def test_cancel_while_in_progress_is_a_signal_the_app_may_ignore(
    server: FalEmulatorServer, http: httpx.Client, clock: ManualClock
) -> None:
    ignores = submit(http)
    server.script_next(Scenario(honors_cancel=True))
    honors = submit(http)
    clock.advance(QUEUE_SECONDS)
    for submitted in (ignores, honors):
        assert http.put(submitted["cancel_url"]).status_code == 202
    assert http.get(honors["response_url"]).status_code == 499
    assert http.get(ignores["status_url"]).json()["status"] == "IN_PROGRESS"
    clock.advance(PROCESSING_SECONDS)
    assert http.get(ignores["response_url"]).status_code == 200


def test_a_cancelled_request_frees_its_place(http: httpx.Client, clock: ManualClock) -> None:
    requests = [submit(http, VEO3, prompt=f"shot {index}") for index in range(4)]
    http.put(requests[2]["cancel_url"])
    assert http.get(requests[3]["status_url"]).json()["queue_position"] == 2
    clock.advance(QUEUE_SECONDS)
    assert http.get(requests[3]["status_url"]).json()["queue_position"] == 0


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Authentication is required to access this application."),
        ("Bearer " + FAL_KEY, "Authentication is required to access this application."),
        ("Key not-an-id-and-secret", "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."),
        ("Key other-id:other-secret", "No user found for Key ID and Secret"),
    ],
)
def test_a_wrong_key_answers_401(server: FalEmulatorServer, authorization: str | None, detail: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.post(f"{server.base_url}/{VEO3}", json={"prompt": "x"}, headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": detail})
    assert server.submitted_count == 0


def test_files_expire_as_the_lifecycle_preference_says(http: httpx.Client, clock: ManualClock) -> None:
    kept = submit(http)
    response = http.post(
        f"/{VEO3}",
        json={"prompt": "short-lived"},
        headers={"X-Fal-Object-Lifecycle-Preference": '{"expiration_duration_seconds": 60}'},
    )
    short = response.json()
    clock.advance(FINISH)
    urls = [http.get(request["response_url"]).json()["video"]["url"] for request in (kept, short)]
    clock.advance(59)
    assert [httpx.get(url).status_code for url in urls] == [200, 200]
    clock.advance(1)
    assert [httpx.get(url).status_code for url in urls] == [200, 404]


def test_expired_files_can_answer_403(clock: ManualClock) -> None:
    settings = config(file_expires_after_seconds=5, expired_file_status=403)
    with (
        FalEmulatorServer(settings, clock=clock) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Key {FAL_KEY}"}) as http,
    ):
        submitted = submit(http)
        clock.advance(FINISH)
        url = http.get(submitted["response_url"]).json()["video"]["url"]
        clock.advance(5)
        assert httpx.get(url).status_code == 403
