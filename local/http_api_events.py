"""What API Gateway's HTTP API hands a function and takes back, for the local gateway: the template's routes and
their matching, the request, the payload format 2.0 event built from it, the response a handler's result becomes,
and the gateway's own refusals (a missing, expired or invalid token) in the API's one error shape."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.devtoken import ExpiredDevToken, InvalidDevToken, MissingDevToken, authorizer_claims
from local.lambda_runtime import ACCOUNT_ID
from local.template import default_route, http_routes

API_ID = "local"
STAGE = "$default"
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


def new_request_id() -> str:
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
