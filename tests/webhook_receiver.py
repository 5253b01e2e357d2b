"""A client's webhook endpoint on 127.0.0.1 for tests over the local stack: records every request, answers 204
(or, first, the statuses a test scripted)."""

from __future__ import annotations

import ssl
import threading
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records `(lower-cased headers, body)` of every POST it gets; over TLS when given a server context.
    Answers ``statuses`` in order, then 204."""

    def __init__(self, tls: ssl.SSLContext | None = None, statuses: Iterable[int] = ()) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._arrived = threading.Condition()
        scripted = deque(statuses)
        received, arrived = self.requests, self._arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with arrived:
                    received.append(({key.lower(): value for key, value in self.headers.items()}, body))
                    status = scripted.popleft() if scripted else 204
                    arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'http' if tls is None else 'https'}://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests arrived; False if ``timeout`` ran out first."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    @property
    def bodies(self) -> list[bytes]:
        return [body for _headers, body in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
