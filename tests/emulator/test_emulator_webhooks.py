"""Signed provider webhooks (video.completed / video.failed) sent by the emulator to a local receiver."""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from openai import OpenAI
from standardwebhooks.webhooks import Webhook

from local.emulator import EmulatorConfig, EmulatorServer, ManualClock, Scenario, SystemClock
from local.emulator.__main__ import parse_args
from local.emulator.webhooks import WebhookEvent, sign
from tests.emulator.conftest import API_KEY, QUEUE_SECONDS, RENDER_SECONDS

SECRET = "whsec_" + base64.b64encode(b"emulator-webhook-test-key-000001").decode()
START = 1_800_000_000.0


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names in lower case
    body: bytes

    def verified(self) -> dict[str, Any]:
        """The payload, after standardwebhooks checked the signature and the timestamp against the real clock."""
        payload: dict[str, Any] = Webhook(SECRET).verify(self.body, self.headers)
        return payload


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request, then answers the scripted statuses (200 after them)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: deque[int] = deque()
        self.gate = threading.Event()  # cleared: hold each request open until set
        self.gate.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._arrived:
                    receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                    receiver._arrived.notify_all()
                receiver.gate.wait(timeout=10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/webhooks/openai"

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self.gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def webhook_config(receiver: Receiver, **changes: Any) -> EmulatorConfig:
    """The test emulator's timing, sending signed webhooks to ``receiver``."""
    return EmulatorConfig(
        api_key=API_KEY,
        queue_seconds=QUEUE_SECONDS,
        render_seconds=RENDER_SECONDS,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        **changes,
    )


@pytest.fixture
def hooked(clock: ManualClock, receiver: Receiver) -> Iterator[EmulatorServer]:
    """An emulator configured to send webhooks to the receiver, with tiny retry delays."""
    config = webhook_config(receiver, webhook_retry_delays=(0.01, 0.01))
    with EmulatorServer(config, clock=clock) as running:
        yield running


@pytest.fixture
def sdk(hooked: EmulatorServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=hooked.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


def finish_rendering(clock: ManualClock, server: EmulatorServer) -> None:
    clock.advance(QUEUE_SECONDS + RENDER_SECONDS)
    assert server.flush_webhooks()


def test_signature_matches_the_standard_webhooks_reference() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    body = WebhookEvent("evt_1", "video.completed", "video_1", 1_800_000_012).body()
    timestamp = 1_700_000_000

    expected = Webhook(SECRET).sign("evt_1", datetime.fromtimestamp(timestamp, tz=UTC), body.decode())

    assert sign(key, "evt_1", timestamp, body) == expected


def test_completion_sends_one_signed_video_completed(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    video = sdk.videos.create(prompt="a lighthouse")

    finish_rendering(clock, hooked)

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert received.verified() == {
        "id": received.headers["webhook-id"],
        "object": "event",
        "created_at": int(START + QUEUE_SECONDS + RENDER_SECONDS),
        "type": "video.completed",
        "data": {"id": video.id},
    }
    assert received.headers["webhook-id"].startswith("evt_")
    assert received.headers["content-type"] == "application/json"
    assert hooked.webhook_log() == [
        {
            "event_id": received.headers["webhook-id"],
            "type": "video.completed",
            "video_id": video.id,
            "attempts": [{"status": 200, "at": hooked.webhook_log()[0]["attempts"][0]["at"]}],
            "delivered": True,
        }
    ]


def test_timestamps_come_from_the_emulator_clock_when_asked(clock: ManualClock, receiver: Receiver) -> None:
    config = webhook_config(receiver, webhook_timestamps_from_clock=True)
    with EmulatorServer(config, clock=clock) as server, OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk:
        sdk.videos.create(prompt="p")
        finish_rendering(clock, server)

    (received,) = receiver.requests
    timestamp = int(received.headers["webhook-timestamp"])
    assert timestamp == int(clock.now())  # the manual clock, far from the wall clock
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    assert received.headers["webhook-signature"] == sign(key, received.headers["webhook-id"], timestamp, received.body)


def test_failure_sends_video_failed_at_the_failure_moment(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    hooked.script_next(Scenario(outcome="failed", fail_code="moderation_blocked", fail_at_progress=50))
    video = sdk.videos.create(prompt="p")

    finish_rendering(clock, hooked)

    assert [r.verified()["type"] for r in receiver.requests] == ["video.failed"]
    payload = receiver.requests[0].verified()
    assert payload["data"] == {"id": video.id}
    assert payload["created_at"] == sdk.videos.retrieve(video.id).completed_at == int(START + 2 + 10 * 50 / 99)


def test_retries_reuse_the_webhook_id_until_a_2xx(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])
    sdk.videos.create(prompt="p")

    finish_rendering(clock, hooked)

    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    for attempt in receiver.requests:
        attempt.verified()
    (entry,) = hooked.webhook_log()
    assert [a["status"] for a in entry["attempts"]] == [500, 503, 200]
    assert entry["delivered"] is True


def test_gives_up_after_the_last_retry_delay(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    receiver.statuses.extend([500] * 10)
    sdk.videos.create(prompt="p")

    finish_rendering(clock, hooked)

    assert len(receiver.requests) == 3  # the first attempt and one per retry delay
    (entry,) = hooked.webhook_log()
    assert [a["status"] for a in entry["attempts"]] == [500, 500, 500]
    assert entry["delivered"] is False


def test_unreachable_receiver_is_logged_with_status_0(clock: ManualClock, receiver: Receiver) -> None:
    url = receiver.url
    receiver.close()  # nothing listens on that port any more
    config = EmulatorConfig(api_key=API_KEY, webhook_url=url, webhook_secret=SECRET, webhook_retry_delays=(0.01,))
    with EmulatorServer(config, clock=clock) as server, OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk:
        sdk.videos.create(prompt="p")
        finish_rendering(clock, server)

        (entry,) = server.webhook_log()
    assert [a["status"] for a in entry["attempts"]] == [0, 0]
    assert entry["delivered"] is False


def test_nothing_is_sent_without_a_webhook_url(
    server: EmulatorServer, client: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    client.videos.create(prompt="p")

    finish_rendering(clock, server)

    assert receiver.requests == []
    assert server.webhook_log() == []


def test_nothing_is_sent_with_a_url_but_no_secret(clock: ManualClock, receiver: Receiver) -> None:
    config = EmulatorConfig(api_key=API_KEY, webhook_url=receiver.url)
    with EmulatorServer(config, clock=clock) as server, OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk:
        sdk.videos.create(prompt="p")
        finish_rendering(clock, server)

    assert receiver.requests == []


def test_each_video_emits_once(hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver) -> None:
    first = sdk.videos.create(prompt="p")
    finish_rendering(clock, hooked)
    clock.advance(60)
    sdk.videos.retrieve(first.id)
    second = sdk.videos.create(prompt="p")
    finish_rendering(clock, hooked)
    clock.advance(3600)
    assert hooked.flush_webhooks()

    assert [r.verified()["data"]["id"] for r in receiver.requests] == [first.id, second.id]


def test_expired_override_emits_nothing(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    hooked.script_next(Scenario(status_override="expired"))
    sdk.videos.create(prompt="p")

    finish_rendering(clock, hooked)

    assert receiver.requests == []


def test_a_video_finished_on_creation_emits_without_a_clock_move(
    hooked: EmulatorServer, sdk: OpenAI, receiver: Receiver
) -> None:
    hooked.script_next(Scenario(queue_seconds=0, render_seconds=0))

    video = sdk.videos.create(prompt="p")

    assert hooked.flush_webhooks()
    assert [r.verified()["data"]["id"] for r in receiver.requests] == [video.id]


def test_control_endpoint_turns_webhooks_on_and_off(server: EmulatorServer, client: OpenAI, receiver: Receiver) -> None:
    with httpx.Client(base_url=server.root_url + "/_emulator", timeout=5) as controls:
        before = client.videos.create(prompt="finished before webhooks were on")
        controls.post("/clock/advance", json={"seconds": 60})

        response = controls.post("/webhooks/config", json={"url": receiver.url, "secret": SECRET})
        assert response.status_code == 200
        assert response.json() == {"url": receiver.url, "enabled": True}
        video = client.videos.create(prompt="p")
        controls.post("/clock/advance", json={"seconds": 60})
        assert server.flush_webhooks()

        assert [r.verified()["data"]["id"] for r in receiver.requests] == [video.id]
        assert before.id not in {entry["video_id"] for entry in controls.get("/webhooks").json()}
        assert controls.get("/webhooks").json() == server.webhook_log()
        assert [entry["video_id"] for entry in server.webhook_log()] == [video.id]

        assert controls.post("/webhooks/config", json={"url": None, "secret": None}).json()["enabled"] is False
        client.videos.create(prompt="p")
        controls.post("/clock/advance", json={"seconds": 60})
        assert server.flush_webhooks()
        assert len(receiver.requests) == 1

        controls.post("/reset")
        assert controls.get("/webhooks").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:1/hook", "secret": "not-a-whsec"},
        {"url": "http://127.0.0.1:1/hook", "secret": "whsec_%%%"},
        {"url": "ftp://example.com", "secret": SECRET},
        {"url": "http://127.0.0.1:1/hook", "secret": SECRET, "typo": 1},
        {"url": 42, "secret": SECRET},
    ],
)
def test_control_endpoint_rejects_bad_config(server: EmulatorServer, body: dict[str, Any]) -> None:
    response = httpx.post(server.root_url + "/_emulator/webhooks/config", content=json.dumps(body))

    assert response.status_code == 400


def test_slow_receiver_does_not_block_the_api(
    hooked: EmulatorServer, sdk: OpenAI, clock: ManualClock, receiver: Receiver
) -> None:
    receiver.gate.clear()
    first = sdk.videos.create(prompt="p")
    clock.advance(QUEUE_SECONDS + RENDER_SECONDS)
    assert receiver.wait_for(1)  # the delivery is now held open by the receiver

    with httpx.Client(base_url=hooked.root_url, timeout=2) as raw:
        second = sdk.with_options(timeout=2).videos.create(prompt="p")
        assert raw.post("/_emulator/clock/advance", json={"seconds": 60}).status_code == 200
        assert sdk.with_options(timeout=2).videos.retrieve(second.id).status == "completed"

    receiver.gate.set()
    assert hooked.flush_webhooks()
    assert [r.verified()["data"]["id"] for r in receiver.requests] == [first.id, second.id]


def test_system_clock_sends_when_the_moment_arrives(receiver: Receiver) -> None:
    config = EmulatorConfig(
        api_key=API_KEY, queue_seconds=0.0, render_seconds=0.05, webhook_url=receiver.url, webhook_secret=SECRET
    )
    with EmulatorServer(config, clock=SystemClock()) as server:
        with OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk:
            video = sdk.videos.create(prompt="p")

        assert receiver.wait_for(1)
        assert server.flush_webhooks()
        port = server.port
    payload = receiver.requests[0].verified()
    assert (payload["type"], payload["data"]["id"]) == ("video.completed", video.id)
    assert not [t.name for t in threading.enumerate() if "webhook" in t.name and t.name.endswith(f":{port}")]


def test_cli_flags_configure_webhooks() -> None:
    args = parse_args(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", SECRET])

    assert (args.webhook_url, args.webhook_secret) == ("http://127.0.0.1:9/hook", SECRET)
    with pytest.raises(SystemExit):
        parse_args(["--webhook-url", "http://127.0.0.1:9/hook"])
    with pytest.raises(SystemExit):
        parse_args(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "plain"])
