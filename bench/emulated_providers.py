"""What the detection benchmark needs to know of each provider's emulator: how a planned job is scripted into it,
which of its logged requests read a generation, when it finished one, how a hand poller reads a job, and where
its webhooks go (the OpenAI gateway's Standard Webhooks, fal's ED25519-signed ones; Runway sends none)."""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bench.world import API_KEY, FAL_KEY, RUNWAY_KEY, VirtualWorld

# A webhook's body, headers and query string in; the receiver's outcome out.
Receive = Callable[[bytes, Mapping[str, str], Mapping[str, str]], str]


def _read_of_resource(method: str, path: str, collection: str) -> tuple[str, str] | None:
    """`GET /v1/{collection}/{id}`, the one read of APIs that answer status and output in one object."""
    parts = path.strip("/").split("/")
    if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", collection]:
        return parts[2], "status"
    return None


def _moment(value: Any) -> float | None:
    return None if value is None else float(value)


class EmulatedProvider:
    """One provider's emulator as the benchmark sees it; subclasses fill in the provider's protocol."""

    name = ""
    # The backend's endpoint for this provider's webhooks; None: the provider sends none.
    webhook_path: str | None = None

    def __init__(self, server: Any) -> None:
        self.server = server

    def script(self, queue_seconds: int, render_seconds: int) -> None:
        """The next generation waits `queue_seconds`, then renders for `render_seconds`."""
        raise NotImplementedError

    def read_of(self, method: str, path: str) -> tuple[str, str] | None:
        """A logged request that reads a generation: its provider video id and what it read ("status" or
        "result"); None for any other request."""
        raise NotImplementedError

    def finished_at(self, video_id: str) -> float | None:
        """When the emulator finished the generation (unix seconds on its clock); None while it runs."""
        raise NotImplementedError

    def hand_poll(self, connection: http.client.HTTPConnection, video_id: str) -> bool:
        """What a client polling by hand reads of one job; True once it knows the generation ended."""
        raise NotImplementedError

    def reads(self) -> dict[str, Counter[str]]:
        """Per provider video id, the reads of each kind in the emulator's request log."""
        counts: dict[str, Counter[str]] = {}
        for method, path, _status in self.server.request_log:
            read = self.read_of(method, path)
            if read is not None:
                counts.setdefault(read[0], Counter())[read[1]] += 1
        return counts

    def connection(self) -> http.client.HTTPConnection:
        """A keep-alive connection to the emulator, for the hand poller."""
        address = urlsplit(self.server.root_url)
        return http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)

    @staticmethod
    def _get(connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str]) -> Any:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status not in (200, 202):
            raise RuntimeError(f"GET {path} answered {response.status}: {body}")
        return body

    # --- webhooks (only where `webhook_path` is set) ---

    def webhook_settings(self, url: str) -> dict[str, Any]:
        """The backend's settings that send this provider's webhooks to `url`."""
        raise NotImplementedError(f"{self.name} sends no webhooks")

    def start_webhooks(self, url: str, world: VirtualWorld) -> None:
        """Turns the emulator's webhooks on (where the provider is told once, not per create)."""

    def receiver(self, wiring: Any) -> Receive:
        """The backend's receiver of this provider's webhooks, as the API route calls it."""
        raise NotImplementedError(f"{self.name} sends no webhooks")

    def flush_webhooks(self, timeout: float) -> bool:
        """Waits until the emulator has sent every webhook due (and had its answer); False on timeout."""
        return bool(self.server.flush_webhooks(timeout=timeout))

    def webhook_log(self) -> list[dict[str, Any]]:
        return list(self.server.webhook_log())


class OpenAIGateway(EmulatedProvider):
    """The OpenAI-Videos-compatible gateway (`local.emulator`): `GET /v1/videos/{id}`, Standard Webhooks."""

    name = "openai"
    webhook_path = "/provider-webhooks/openai"

    def script(self, queue_seconds: int, render_seconds: int) -> None:
        from local.emulator import Scenario

        self.server.script_next(Scenario(queue_seconds=queue_seconds, render_seconds=render_seconds))

    def read_of(self, method: str, path: str) -> tuple[str, str] | None:
        return _read_of_resource(method, path, "videos")

    def finished_at(self, video_id: str) -> float | None:
        return _moment(self.server.video(video_id)["completed_at"])

    def hand_poll(self, connection: http.client.HTTPConnection, video_id: str) -> bool:
        body = self._get(connection, f"/v1/videos/{video_id}", {"Authorization": f"Bearer {API_KEY}"})
        return body["status"] in ("completed", "failed")

    def webhook_settings(self, url: str) -> dict[str, Any]:
        return {}  # the gateway is told where to post once, not per create

    def start_webhooks(self, url: str, world: VirtualWorld) -> None:
        self.server.configure_webhooks(url, world.resources.provider_webhook_secret)

    def receiver(self, wiring: Any) -> Receive:
        receiver = wiring.provider_webhooks
        return lambda body, headers, _query: receiver.receive(body, headers).value


class FalQueue(EmulatedProvider):
    """fal's queue (`local.fal_emulator`): `GET …/requests/{id}/status`, then `GET …/requests/{id}` for the
    result; ED25519-signed webhooks to the URL each create names."""

    name = "fal"
    webhook_path = "/provider-webhooks/fal"

    def script(self, queue_seconds: int, render_seconds: int) -> None:
        from local.fal_emulator import Scenario

        self.server.script_next(Scenario(queue_seconds=queue_seconds, processing_seconds=render_seconds))

    def read_of(self, method: str, path: str) -> tuple[str, str] | None:
        if method != "GET" or "/requests/" not in path:
            return None  # creates, cancels, the JWKS and the CDN's files
        video_id = path.strip("/")
        if video_id.endswith("/status"):
            return video_id.removesuffix("/status"), "status"
        return video_id, "result"

    def finished_at(self, video_id: str) -> float | None:
        return _moment(self.server.request(video_id.rsplit("/", 1)[1])["finished_at"])

    def hand_poll(self, connection: http.client.HTTPConnection, video_id: str) -> bool:
        headers = {"Authorization": f"Key {FAL_KEY}"}
        if self._get(connection, f"/{video_id}/status", headers)["status"] != "COMPLETED":
            return False
        self._get(connection, f"/{video_id}", headers)  # COMPLETED says nothing of success: the result does
        return True

    def webhook_settings(self, url: str) -> dict[str, Any]:
        return {"fal_webhook_url": url}  # each create names it, with the job and attempt in its query

    def receiver(self, wiring: Any) -> Receive:
        receiver = wiring.fal_webhooks

        def receive(body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
            attempt = query.get("attempt")
            job_id = query.get("job")
            return receiver.receive(body, headers, job_id=job_id, attempt=int(attempt) if attempt else None).value

        return receive


class RunwayTasks(EmulatedProvider):
    """Runway's task API (`local.runway_emulator`): `GET /v1/tasks/{id}`; no webhooks."""

    name = "runway"

    def script(self, queue_seconds: int, render_seconds: int) -> None:
        from local.runway_emulator import Scenario

        self.server.script_next(Scenario(pending_seconds=queue_seconds, running_seconds=render_seconds))

    def read_of(self, method: str, path: str) -> tuple[str, str] | None:
        return _read_of_resource(method, path, "tasks")

    def finished_at(self, video_id: str) -> float | None:
        return _moment(self.server.task(video_id)["finished_at"])

    def hand_poll(self, connection: http.client.HTTPConnection, video_id: str) -> bool:
        headers = {"Authorization": f"Bearer {RUNWAY_KEY}", "X-Runway-Version": self.server.config.api_versions[0]}
        return self._get(connection, f"/v1/tasks/{video_id}", headers)["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")


def emulated(provider: str, world: VirtualWorld) -> EmulatedProvider:
    """The world's emulator of `provider` (fal's and Runway's only run when the world was asked for them)."""
    if provider == "openai":
        return OpenAIGateway(world.emulator)
    server = {"fal": world.fal, "runway": world.runway}[provider]
    if server is None:
        raise ValueError(f"the world runs no {provider} emulator (VirtualWorld(providers=...))")
    return FalQueue(server) if provider == "fal" else RunwayTasks(server)
