"""A local stand-in for the HTTP API: template routes, the JWT authorizer and payload format 2.0 events.

Requests are matched against the HttpApi routes of template.yaml, authorized with a development token
(local/devtoken.py) where the route uses the default JWT authorizer, turned into the same event API
Gateway would send (see events/*.json), and handed to the function in this process.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.devtoken import DevTokens, ExpiredDevToken, InvalidDevToken, MissingDevToken, authorizer_claims
from local.lambda_runtime import ACCOUNT_ID, LocalFunctions
from local.template import CorsRules, default_route, http_routes

log = logging.getLogger("local.gateway")

API_ID = "local"
STAGE = "$default"
# HTTP API refuses request payloads above 10 MB.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_PATH_VARIABLE = re.compile(r"\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /videos/{id}/sora-status
    function_id: str
    needs_jwt: bool

    @property
    def route_key(self) -> str:
        return self.path if self.path == DEFAULT_ROUTE_KEY else f"{self.method} {self.path}"

    @property
    def variables(self) -> list[str]:
        return _PATH_VARIABLE.findall(self.path)

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` fits this route; a variable matches exactly one segment."""
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if _PATH_VARIABLE.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[A-Za-z0-9_]+\})", self.path)
            if part
        )
        found = re.fullmatch(pattern, path)
        return dict(found.groupdict()) if found else None


DEFAULT_ROUTE_KEY = "$default"


class RouteTable:
    def __init__(self, routes: Iterable[tuple[str, str, str, bool]], default: tuple[str, bool] | None = None) -> None:
        # Like HTTP API, a literal path wins over one with variables.
        self.routes = sorted((Route(*route) for route in routes), key=lambda route: len(route.variables))
        # The `$default` route: (function, needs JWT) for every request no route matches.
        self.default = default

    @classmethod
    def from_template(cls) -> RouteTable:
        return cls(http_routes(), default_route())

    def entries(self) -> list[tuple[str, str, str, bool]]:
        return [(route.method, route.path, route.function_id, route.needs_jwt) for route in self.routes]

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            parameters = route.match(path)
            if parameters is not None:
                return route, parameters
        if self.default is not None:
            function_id, needs_jwt = self.default
            return Route(method, DEFAULT_ROUTE_KEY, function_id, needs_jwt), {}
        return None


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query exactly as sent
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        # HTTP API hands functions (and matches routes on) the percent-decoded path, despite the name.
        return unquote(urlsplit(self.target).path) or "/"

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_http_event(
    request: HttpRequest,
    route: Route,
    path_parameters: Mapping[str, str],
    claims: Mapping[str, Any] | None,
    *,
    request_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The HTTP API payload format 2.0 event for a matched request (the shape of events/*.json)."""
    now = now or datetime.now(UTC)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # Repeated headers reach the function joined with commas.
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    host = headers.get("host", "localhost")
    domain = host.split(":", 1)[0]
    source_ip = request.source_ip
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-port", host.rsplit(":", 1)[1] if ":" in host else "80")
    headers.setdefault("x-forwarded-proto", "http")

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": STAGE,
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": authorizer_claims(claims), "scopes": None}}
    event["requestContext"] = request_context
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if request.raw_query:
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_error(status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """The gateway's own answers, in the API's one error shape. A deployed HTTP API answers these with
    {"message": ...} instead, which it does not let us change (README, "What API Gateway answers itself")."""
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
    return HttpResponse(status, [("Content-Type", "application/json"), *headers], body)


def refused_token(refused: InvalidDevToken) -> HttpResponse:
    """What the JWT authorizer answers, saying why: missing, expired or otherwise not valid here."""
    challenge = f'Bearer scope="" error="invalid_token" error_description="{refused}"'
    if isinstance(refused, MissingDevToken):
        # RFC 6750: a request with no credentials gets a bare challenge.
        return gateway_error(
            401,
            "unauthorized",
            "This route needs a token: send Authorization: Bearer <JWT> (locally, TOKEN in .local-stack/env).",
            [("www-authenticate", "Bearer")],
        )
    if isinstance(refused, ExpiredDevToken):
        expired = datetime.fromtimestamp(refused.expired_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return gateway_error(
            401,
            "token_expired",
            f"The token expired at {expired}: get a new one (locally, restart make local, which writes fresh "
            "tokens to .local-stack/env).",
            [("www-authenticate", challenge)],
        )
    return gateway_error(
        401,
        "invalid_token",
        f"The token is not valid here ({refused}): use a token of this API's issuer and audience.",
        [("www-authenticate", challenge)],
    )


def http_response_from_lambda(result: Any) -> HttpResponse:
    """Turns a handler's return value into the HTTP response, as payload format 2.0 does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Format 2.0 treats anything without a statusCode as a 200 JSON body.
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], text.encode())
    headers: list[tuple[str, str]] = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    single = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() not in single:
            headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw_body = result.get("body")
    body: bytes
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    else:
        body = str(raw_body).encode()
    return HttpResponse(int(result["statusCode"]), headers, body)


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
        request_id = _request_id()
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
