"""The fal and Runway emulators beside the OpenAI one, for tests whose jobs name those providers, and an inbox that
takes fal's webhook deliveries (real HTTP, signed by the emulator) for the test to hand to the handler."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAL_KEY = "fal-key-id:fal-key-secret"
RUNWAY_KEY = "key_runway_test_secret"


@dataclass(frozen=True)
class Delivery:
    """One webhook as it arrived: the query our create put in `fal_webhook`, the headers, the exact body."""

    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class WebhookInbox:
    """An endpoint on 127.0.0.1 that records every POST and answers 200, like our API does."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        received = self.deliveries
        lock = self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
                with lock:
                    received.append(Delivery(query, {key.lower(): value for key, value in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/provider-webhooks/fal"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self) -> list[Delivery]:
        """The deliveries received since the last take, oldest first."""
        with self._lock:
            taken, self.deliveries[:] = list(self.deliveries), []
        return taken

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookInbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
