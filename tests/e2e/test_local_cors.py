"""A browser on an allowed origin calls the local stack: `CorsAllowedOrigins` (or `make local`'s --cors-origins,
or $CORS_ALLOWED_ORIGINS) reaches the gateway, which applies the template's CORS rules."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.stack import LocalStack, parse_command_line, stack_parameters
from tests.client.helpers import Clocks, manual_local_stack

pytestmark = pytest.mark.e2e

APP = "http://localhost:5173"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with manual_local_stack(Clocks.now(), native_providers=False, parameters={"CorsAllowedOrigins": APP}) as local:
        yield local


def test_a_browser_on_the_allowed_origin_passes_the_preflight_then_submits_and_reads_the_location(stack):
    preflight = httpx.options(
        f"{stack.gateway_url}/videos",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    submitted = httpx.post(
        f"{stack.gateway_url}/videos",
        json={"prompt": "A paper boat drifting down a rainy street"},
        headers={"Origin": APP, "Authorization": f"Bearer {stack.mint_token('browser-user')}"},
    )

    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == APP
    assert submitted.status_code == 202 and submitted.headers["access-control-allow-origin"] == APP
    assert "location" in submitted.headers["access-control-expose-headers"]


def test_another_origin_gets_no_cors_headers(stack):
    response = httpx.get(f"{stack.gateway_url}/openapi.json", headers={"Origin": "https://elsewhere.example"})

    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_make_local_takes_the_origins_from_an_option_or_the_environment(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", APP)

    def parameters(argv: list[str]) -> dict[str, str]:
        args = parse_command_line([*argv, "--verbose"])
        return stack_parameters(args.parameter_overrides, verbose=args.verbose, cors_origins=args.cors_origins)

    assert parameters([]) == {"CorsAllowedOrigins": APP}
    assert parameters(["--cors-origins", "https://app.example.com"]) == {
        "CorsAllowedOrigins": "https://app.example.com"
    }
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS")
    assert parameters([]) == {}
