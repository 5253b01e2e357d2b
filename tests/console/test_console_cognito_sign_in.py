"""The console's sign-in as deployed with the stack's Cognito pool: the email and password form, Cognito's JSON API
called as the page's CSP allows (InitiateAuth with USER_PASSWORD_AUTH, then the first sign-in's
NEW_PASSWORD_REQUIRED challenge), and the ID token it answers used for the API. Cognito itself is played by the
test (Playwright answers the page's requests to it); the API is the local stack's, told the app client's id
(CONSOLE_COGNITO_CLIENT_ID, which template.yaml sets from the stack's UserPoolClient).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from local.lambda_runtime import REGION
from local.stack import LocalStack
from tests.client.helpers import Clocks, manual_local_stack

pytestmark = pytest.mark.e2e

CLIENT_ID = "console-app-client"
COGNITO = f"https://cognito-idp.{REGION}.amazonaws.com/"
EMAIL = "ada@example.com"


@pytest.fixture(scope="module")
def stack(clocks: Clocks) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CONSOLE_COGNITO_CLIENT_ID", CLIENT_ID)
        with manual_local_stack(clocks) as local:
            yield local


def cognito_answering(answers: list[dict[str, Any]], calls: list[dict[str, Any]]) -> Callable[[Route], None]:
    """Cognito as the page sees it: each call recorded (target and body), answered in turn."""

    def answer(route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":  # the CORS preflight Cognito answers for any origin
            route.fulfill(
                status=200,
                headers={
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Headers": "content-type,x-amz-target",
                    "Access-Control-Allow-Methods": "POST",
                },
            )
            return
        calls.append({"target": request.headers.get("x-amz-target"), **json.loads(request.post_data or "{}")})
        route.fulfill(
            status=200,
            content_type="application/x-amz-json-1.1",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(answers.pop(0)),
        )

    return answer


def test_the_first_sign_in_sets_a_new_password_and_the_id_token_opens_the_console(
    page: Page, stack: LocalStack, screenshot: Callable[[str], None]
) -> None:
    id_token = stack.mint_token(EMAIL)
    calls: list[dict[str, Any]] = []
    answers = [
        {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "session-1"},
        {"AuthenticationResult": {"IdToken": id_token, "AccessToken": "not-for-the-api", "ExpiresIn": 3600}},
    ]
    page.route(COGNITO, cognito_answering(answers, calls))
    page.goto(f"{stack.gateway_url}/console")

    expect(page.get_by_label("Email")).to_be_focused()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill("Temporary-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("New password (first sign-in: choose your own)")).to_be_focused()
    page.get_by_label("New password (first sign-in: choose your own)").fill("My-own-password-12")
    screenshot("12-cognito-new-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text(f"Signed in as {EMAIL}")).to_be_visible()
    expect(page.get_by_label("Model")).to_be_visible()  # GET /models answered to the ID token
    assert calls == [
        {
            "target": "AWSCognitoIdentityProviderService.InitiateAuth",
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": CLIENT_ID,
            "AuthParameters": {"USERNAME": EMAIL, "PASSWORD": "Temporary-password-1"},
        },
        {
            "target": "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "ClientId": CLIENT_ID,
            "Session": "session-1",
            "ChallengeResponses": {"USERNAME": EMAIL, "NEW_PASSWORD": "My-own-password-12"},
        },
    ]


def test_the_console_may_call_the_stacks_cognito_and_says_how_to_sign_in(stack: LocalStack) -> None:
    page = httpx.get(f"{stack.gateway_url}/console", timeout=20)
    config = httpx.get(f"{stack.gateway_url}/console/config.json", timeout=20).json()

    assert f"connect-src 'self' https://cognito-idp.{REGION}.amazonaws.com;" in page.headers["content-security-policy"]
    assert config == {"sign_in": "cognito", "cognito": {"region": REGION, "client_id": CLIENT_ID}}
