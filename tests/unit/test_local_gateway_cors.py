"""CORS at the local gateway, by the template's rules: preflights answered before routing and the authorizer, the
headers on every answer to an allowed origin (the gateway's own 401 included), none for other origins, and no CORS
at all while CorsAllowedOrigins names no origin. The functions are a fake: only the gateway is under test."""

from __future__ import annotations

from typing import Any

import pytest

from local.devtoken import DevTokens
from local.gateway import HttpRequest, HttpResponse, LocalHttpGateway
from local.template import cors_rules, load_template, resource

APP = "https://app.example.com"
OTHER = "https://evil.example.net"


class AnsweringFunctions:
    """Every function answers 200 with a CORS header of its own, which API Gateway would drop."""

    def __init__(self) -> None:
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self.invoked.append(event)
        headers = {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
        return {"statusCode": 200, "headers": headers, "body": "{}"}


def gateway(origins: str) -> tuple[LocalHttpGateway, AnsweringFunctions]:
    functions = AnsweringFunctions()
    tokens = DevTokens()
    return LocalHttpGateway(functions, tokens=tokens, cors=cors_rules({"CorsAllowedOrigins": origins})), functions


def request(method: str, path: str, **headers: str) -> HttpRequest:
    return HttpRequest(method, path, [(name.replace("_", "-"), value) for name, value in headers.items()], b"", "::1")


def header(response: HttpResponse, name: str) -> str | None:
    return next((value for key, value in response.headers if key.lower() == name.lower()), None)


def test_the_template_allows_no_origin_by_default_and_the_parameter_names_them():
    parameter = load_template()["Parameters"]["CorsAllowedOrigins"]
    cors = resource("HttpApi")["Properties"]["CorsConfiguration"]

    assert parameter["Default"] == "" and cors_rules({}) is None
    assert cors["Fn::If"][0] == "HasCorsOrigins" and cors["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    rules = cors_rules({"CorsAllowedOrigins": f"{APP},http://localhost:5173"})
    assert rules is not None and rules.allow_origins == (APP, "http://localhost:5173")
    assert {"authorization", "content-type", "idempotency-key"} <= set(rules.allow_headers)
    assert {"location", "retry-after"} <= set(rules.expose_headers)


def test_a_preflight_from_an_allowed_origin_is_answered_before_routing_and_the_authorizer():
    local, functions = gateway(APP)

    response = local.handle(
        request(
            "OPTIONS",
            "/videos",
            origin=APP,
            access_control_request_method="POST",
            access_control_request_headers="authorization,content-type",
        )
    )

    assert response.status == 204 and response.body == b""
    assert header(response, "access-control-allow-origin") == APP
    assert header(response, "access-control-allow-methods") == "GET,POST"
    assert "authorization" in (header(response, "access-control-allow-headers") or "")
    assert header(response, "access-control-max-age") == "600"
    assert functions.invoked == []


def test_a_preflight_from_another_origin_gets_no_cors_headers_so_the_browser_refuses():
    local, _ = gateway(APP)

    response = local.handle(request("OPTIONS", "/videos", origin=OTHER, access_control_request_method="POST"))

    assert response.status == 204
    assert not [key for key, _ in response.headers if key.lower().startswith("access-control-")]


@pytest.mark.parametrize(("path", "authorization", "status"), [("/videos", None, 401), ("/openapi.json", None, 200)])
def test_answers_to_an_allowed_origin_carry_the_headers_the_gateways_own_401_included(path, authorization, status):
    local, _ = gateway(APP)

    response = local.handle(request("GET", path, origin=APP))

    assert response.status == status
    assert header(response, "access-control-allow-origin") == APP
    assert "retry-after" in (header(response, "access-control-expose-headers") or "")


def test_the_functions_own_cors_headers_are_dropped_and_other_origins_get_none():
    local, _ = gateway(APP)

    response = local.handle(request("GET", "/openapi.json", origin=OTHER))

    assert response.status == 200
    assert not [key for key, _ in response.headers if key.lower().startswith("access-control-")]


def test_a_wildcard_allows_any_origin():
    local, _ = gateway("*")

    response = local.handle(request("OPTIONS", "/videos", origin=OTHER, access_control_request_method="GET"))

    assert header(response, "access-control-allow-origin") == "*"


def test_without_origins_there_is_no_cors_and_a_preflight_goes_to_the_default_route():
    local, functions = gateway("")

    response = local.handle(request("OPTIONS", "/videos", origin=APP, access_control_request_method="POST"))

    assert functions.invoked[-1]["routeKey"] == "$default"
    assert header(response, "access-control-allow-origin") == "*"  # the function's own, passed through unchanged
