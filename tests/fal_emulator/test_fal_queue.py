"""The queue's lifecycle as fal documents it: submit, IN_QUEUE with a position, IN_PROGRESS, COMPLETED, the result,
the output file; request URLs under the app only; runners shared by every request (on a ManualClock)."""

from __future__ import annotations

import hashlib

import httpx

from local.emulation import media
from local.fal_emulator import FalEmulatorServer, ManualClock, Scenario
from tests.fal_emulator.conftest import (
    CONCURRENCY,
    HAILUO_I2V,
    KLING_T2V,
    PROCESSING_SECONDS,
    QUEUE_SECONDS,
    VEO3,
    submit,
)


def test_a_request_goes_from_the_queue_to_its_result_and_file(
    server: FalEmulatorServer, http: httpx.Client, clock: ManualClock
) -> None:
    submitted = submit(http, VEO3, prompt="a cat on a skateboard")
    request_id = submitted["request_id"]
    base = f"{server.base_url}/fal-ai/veo3/requests/{request_id}"
    assert submitted == {
        "status": "IN_QUEUE",
        "request_id": request_id,
        "gateway_request_id": request_id,
        "response_url": base,
        "status_url": base + "/status",
        "cancel_url": base + "/cancel",
        "queue_position": 0,
    }

    queued = http.get(submitted["status_url"])
    assert queued.status_code == 202
    assert queued.headers["x-fal-request-id"] == request_id
    assert queued.json()["status"] == "IN_QUEUE"
    assert queued.json()["queue_position"] == 0
    assert queued.json()["logs"] is None
    early = http.get(submitted["response_url"])
    assert (early.status_code, early.json()) == (400, {"detail": "Request is still in progress"})

    clock.advance(QUEUE_SECONDS)
    running = http.get(submitted["status_url"], params={"logs": 1})
    assert running.status_code == 202
    assert running.json()["status"] == "IN_PROGRESS"
    assert "queue_position" not in running.json()
    assert [log["message"] for log in running.json()["logs"]] == ["Starting generation"]
    assert set(running.json()["logs"][0]) == {"message", "level", "source", "timestamp"}

    clock.advance(PROCESSING_SECONDS)
    done = http.get(submitted["status_url"])
    assert done.status_code == 200
    assert done.json()["status"] == "COMPLETED"
    assert done.json()["metrics"] == {"inference_time": PROCESSING_SECONDS}
    assert "error" not in done.json()

    result = http.get(submitted["response_url"])
    assert result.status_code == 200
    video = result.json()["video"]
    assert video["content_type"] == "video/mp4"
    assert video["file_name"] == "output.mp4"
    assert video["url"].startswith(f"{server.root_url}/files/")
    assert video["url"].endswith("_output.mp4")
    download = httpx.get(video["url"])  # the CDN needs no key
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert len(download.content) == video["file_size"] == len(media.fixture_bytes("video"))
    assert server.submitted_count == 1


def test_request_urls_use_the_app_not_the_endpoint_path(server: FalEmulatorServer, http: httpx.Client) -> None:
    submitted = submit(http, KLING_T2V, prompt="a lord walks among his people")
    request_id = submitted["request_id"]
    assert submitted["status_url"] == f"{server.base_url}/fal-ai/kling-video/requests/{request_id}/status"
    assert http.get(submitted["status_url"]).status_code == 202
    # The endpoint's path belongs in the submit URL only.
    assert http.get(f"/{KLING_T2V}/requests/{request_id}/status").status_code == 404
    assert http.get(f"/fal-ai/veo3/requests/{request_id}/status").status_code == 404


def test_unknown_requests_answer_fal_404s(http: httpx.Client) -> None:
    missing = "/fal-ai/veo3/requests/00000000-0000-4000-8000-000000000000"
    assert (http.get(missing + "/status").status_code, http.get(missing + "/status").json()) == (
        404,
        {"detail": "Request not found"},
    )
    assert http.get(missing).status_code == 404
    assert (http.put(missing + "/cancel").status_code, http.put(missing + "/cancel").json()) == (
        404,
        {"status": "NOT_FOUND"},
    )
    unknown_model = http.post("/fal-ai/not-a-model", json={"prompt": "x"})
    assert unknown_model.status_code == 404


def test_queue_positions_count_down_as_runners_free(http: httpx.Client, clock: ManualClock) -> None:
    requests = [submit(http, VEO3, prompt=f"shot {index}") for index in range(5)]
    assert [request["queue_position"] for request in requests] == [0, 1, 2, 3, 4]

    def states() -> list[tuple[str, int | None]]:
        bodies = [http.get(request["status_url"]).json() for request in requests]
        return [(body["status"], body.get("queue_position")) for body in bodies]

    clock.advance(QUEUE_SECONDS)
    assert states() == [("IN_PROGRESS", None)] * CONCURRENCY + [("IN_QUEUE", 0), ("IN_QUEUE", 1), ("IN_QUEUE", 2)]
    clock.advance(PROCESSING_SECONDS)
    assert states() == [("COMPLETED", None)] * 2 + [("IN_PROGRESS", None)] * 2 + [("IN_QUEUE", 0)]
    clock.advance(PROCESSING_SECONDS)
    assert states() == [("COMPLETED", None)] * 4 + [("IN_PROGRESS", None)]
    clock.advance(PROCESSING_SECONDS)
    assert states() == [("COMPLETED", None)] * 5


def test_one_clock_move_replays_every_start_and_finish(http: httpx.Client, clock: ManualClock) -> None:
    requests = [submit(http, VEO3, prompt=f"shot {index}") for index in range(5)]
    clock.advance(QUEUE_SECONDS + 3 * PROCESSING_SECONDS)
    metrics = [http.get(request["status_url"]).json()["metrics"] for request in requests]
    assert metrics == [{"inference_time": PROCESSING_SECONDS}] * 5


def test_a_stuck_request_holds_its_runner(server: FalEmulatorServer, http: httpx.Client, clock: ManualClock) -> None:
    server.script_next(Scenario(outcome="stuck"))
    server.script_next(Scenario(outcome="stuck"))
    stuck = [submit(http, VEO3, prompt="stuck") for _ in range(CONCURRENCY)]
    waiting = submit(http, VEO3, prompt="waits forever")
    clock.advance(3600)
    assert [http.get(request["status_url"]).json()["status"] for request in stuck] == ["IN_PROGRESS"] * 2
    assert http.get(waiting["status_url"]).json()["queue_position"] == 0

    server.set_concurrency(CONCURRENCY + 1)
    assert http.get(waiting["status_url"]).json()["status"] == "IN_PROGRESS"


def test_scenario_timings_and_exact_file_sizes(
    server: FalEmulatorServer, http: httpx.Client, clock: ManualClock
) -> None:
    size = 3 * 1024 * 1024 + 7
    server.add_rule(prompt_contains="big", scenario=Scenario(queue_seconds=0, processing_seconds=2, video_bytes=size))
    submitted = submit(http, HAILUO_I2V, prompt="a big wave", image_url="https://example.com/wave.png")
    assert submitted["status"] == "IN_QUEUE"  # what the queue answers, though a runner took it at once
    assert http.get(submitted["status_url"]).json()["status"] == "IN_PROGRESS"
    clock.advance(2)
    video = http.get(submitted["response_url"]).json()["video"]
    assert video["file_size"] == size
    body = httpx.get(video["url"]).content
    assert len(body) == size
    assert hashlib.sha256(body).hexdigest() == media.sha256_of_content("video", size, submitted["request_id"])


def test_the_result_is_kept_for_an_hour(http: httpx.Client, clock: ManualClock) -> None:
    submitted = submit(http)
    clock.advance(QUEUE_SECONDS + PROCESSING_SECONDS + 3599)
    assert http.get(submitted["response_url"]).status_code == 200
    clock.advance(1)
    assert http.get(submitted["response_url"]).status_code == 404
