"""A local stand-in for the HTTP API: template routes, the JWT authorizer and payload format 2.0 events.

Requests are matched against the HttpApi routes of template.yaml, authorized with a development token
(local/devtoken.py) where the route uses the default JWT authorizer, turned into the same event API
Gateway would send (see events/*.json; local/http_api_events.py builds it), and handed to the function in this
process.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.devtoken import DevTokens, InvalidDevToken
from local.http_api_events import (
    HttpRequest,
    HttpResponse,
    RouteTable,
    build_http_event,
    gateway_error,
    http_response_from_lambda,
    new_request_id,
    refused_token,
)
from local.lambda_runtime import LocalFunctions
from local.template import CorsRules

log = logging.getLogger("local.gateway")

# HTTP API refuses request payloads above 10 MB.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class LocalHttpGateway:
    """The HTTP API on a local port. `recent_events` keeps the last events sent to functions (for tests)."""

    def __init__(
        self,
        functions: LocalFunctions,
        *,
        routes: RouteTable | None = None,
        tokens: DevTokens | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        cors: CorsRules | None = None,
    ) -> None:
        self.functions = functions
        self.routes = routes or RouteTable.from_template()
        self.tokens = tokens or DevTokens.from_env()
        self.cors = cors
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=100)
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalHttpGateway:
        gateway = self

        class Handler(_GatewayRequestHandler):
            pass

        Handler.gateway = gateway
        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        return f"http://{host}:{self._server.server_port}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        """CORS preflights, then routing, then the authorizer, then the function: the order API Gateway applies
        them in."""
        request_id = new_request_id()
        origin = _header(request, "origin")
        preflight = request.method == "OPTIONS" and _header(request, "access-control-request-method") is not None
        if self.cors is not None and origin is not None and preflight:
            response = preflight_answer(self.cors, origin)
            response.headers.append(("apigw-requestid", request_id))
            return response
        response = self._handle(request, request_id)
        response.headers.append(("apigw-requestid", request_id))
        if self.cors is not None and origin is not None:
            with_cors(response, self.cors, origin)
        return response

    def _handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return gateway_error(
                413,
                "payload_too_large",
                f"The request body is {len(request.body)} bytes; API Gateway takes at most {MAX_PAYLOAD_BYTES}.",
            )
        resolved = self.routes.resolve(request.method, request.raw_path)
        if resolved is None:
            return gateway_error(404, "route_not_found", f"No route {request.method} {request.raw_path}.")
        route, path_parameters = resolved
        claims: dict[str, Any] | None = None
        if route.needs_jwt:
            authorization = next((v for k, v in request.headers if k.lower() == "authorization"), None)
            try:
                claims = self.tokens.verify(authorization)
            except InvalidDevToken as refused:
                log.info("%s %s refused by the JWT authorizer: %s", request.method, request.raw_path, refused)
                return refused_token(refused)
        event = build_http_event(request, route, path_parameters, claims, request_id=request_id)
        self.recent_events.append(event)
        try:
            result = self.functions.invoke(route.function_id, event)
            return http_response_from_lambda(result)
        except Exception:
            log.exception("%s failed on %s", route.function_id, route.route_key)
            return gateway_error(
                500, "internal_error", f"{route.function_id} failed (see the log of make local); retry the request."
            )


def _header(request: HttpRequest, name: str) -> str | None:
    return next((value for key, value in request.headers if key.lower() == name), None)


def preflight_answer(cors: CorsRules, origin: str) -> HttpResponse:
    """API Gateway answers a preflight itself, before routing and the authorizer: 204, with the rules when the
    origin is allowed and without any CORS header when it is not (the browser then refuses the call)."""
    headers: list[tuple[str, str]] = []
    if cors.allows(origin):
        headers = [
            ("Access-Control-Allow-Origin", "*" if "*" in cors.allow_origins else origin),
            ("Access-Control-Allow-Methods", ",".join(cors.allow_methods)),
            ("Access-Control-Allow-Headers", ",".join(cors.allow_headers)),
            ("Access-Control-Max-Age", str(cors.max_age)),
        ]
    return HttpResponse(204, headers, b"")


def with_cors(response: HttpResponse, cors: CorsRules, origin: str) -> None:
    """The CORS headers of an answer to an allowed origin, the gateway's own errors included; whatever CORS
    headers the function set are dropped, as API Gateway ignores them once CORS is configured."""
    response.headers[:] = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    if cors.allows(origin):
        response.headers.append(("Access-Control-Allow-Origin", "*" if "*" in cors.allow_origins else origin))
        response.headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
        response.headers.append(("Vary", "Origin"))


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    gateway: LocalHttpGateway
    protocol_version = "HTTP/1.1"
    server_version = "sora-jobs-local-gateway"
    sys_version = ""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=self._read_body(),
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.gateway.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s - %s", self.address_string(), format % args)
