"""moto in server mode, in a thread of this process: the local stack's DynamoDB, S3, SQS and Secrets Manager."""

from __future__ import annotations

import logging
import threading
import urllib.request
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.moto_dynamodb import SerializedDynamoDB, keep_streams_through_cancelled_transactions

log = logging.getLogger("local.moto")


class _QuietRequestHandler(WSGIRequestHandler):
    """Sends the access log to the `local.moto` logger (debug) instead of stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), message % args)


class MotoServer:
    """Like moto's ThreadedMotoServer, but binds port 0, closes its socket on stop, and corrects moto's
    DynamoDB where concurrent requests break it (`local.moto_dynamodb`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MotoServer:
        keep_streams_through_cancelled_transactions()
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._httpd = make_server(self._host, self._port, app, threaded=True, request_handler=_QuietRequestHandler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-moto", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("moto is not started")
        return f"http://{self._host}:{self._httpd.server_port}"

    def reset(self) -> None:
        """Forgets every resource. moto keeps its state per process, so a new stack starts from a clean slate."""
        # Our own http:// server, never a user-supplied scheme.
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
