"""The console's Content-Security-Policy and sign-in configuration, deployed and local, from the settings alone."""

from __future__ import annotations

from sorajobs.api.routes.console import console_config, content_security_policy
from sorajobs.config import Settings


def policy(settings: Settings) -> dict[str, str]:
    return dict(part.split(" ", 1) for part in content_security_policy(settings).split("; "))


def test_deployed_the_page_may_load_media_from_the_bucket_and_call_only_the_api_and_cognito() -> None:
    settings = Settings(
        jobs_table_name="jobs", videos_bucket_name="videos-1", aws_region="eu-west-1", console_cognito_client_id="abc"
    )

    directives = policy(settings)

    bucket = "https://videos-1.s3.amazonaws.com https://videos-1.s3.eu-west-1.amazonaws.com"
    assert directives["media-src"] == bucket
    assert directives["img-src"] == f"'self' {bucket}"
    assert directives["connect-src"] == "'self' https://cognito-idp.eu-west-1.amazonaws.com"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["form-action"] == "'none'"
    assert "unsafe" not in content_security_policy(settings)
    assert console_config(settings).model_dump() == {
        "sign_in": "cognito",
        "cognito": {"region": "eu-west-1", "client_id": "abc"},
    }


def test_with_a_jwt_issuer_of_its_own_the_console_asks_for_a_token_and_calls_no_cognito() -> None:
    settings = Settings(jobs_table_name="jobs", videos_bucket_name="videos-1")

    assert policy(settings)["connect-src"] == "'self'"
    assert console_config(settings).model_dump() == {"sign_in": "token", "cognito": None}


def test_locally_media_come_from_the_local_s3_endpoint() -> None:
    settings = Settings(jobs_table_name="jobs", aws_endpoint_url="http://127.0.0.1:5123/")

    assert policy(settings)["media-src"] == "http://127.0.0.1:5123"
