"""The web console: one page and its static files (sorajobs/api/console/), served by the read function on the API's
own origin, so the page calls the API without CORS and works alike locally and deployed. Public, like /docs: the
files hold no data, and every call the page makes carries the signed-in user's token.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import SettingsDep
from sorajobs.api.http import error_response
from sorajobs.config import Settings
from sorajobs.models.api import ConsoleCognito, ConsoleConfigResponse

router = APIGatewayHttpRouter()

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
PAGE = "index.html"
# What /console/{file} serves: the page's modules and its style sheet, and nothing else from the folder.
STATIC_FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
CONFIG_FILE = "config.json"


def stored_video_origins(settings: Settings) -> list[str]:
    """Where the presigned URLs of the videos and thumbnails point: the local S3 endpoint (path-style), else the
    bucket's virtual-hosted names (boto3 signs us-east-1 on the global name, other regions on the regional one)."""
    if settings.aws_endpoint_url:
        parts = urlsplit(settings.aws_endpoint_url)
        return [f"{parts.scheme}://{parts.netloc}"]
    bucket, region = settings.videos_bucket_name, settings.aws_region
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]


def cognito_endpoint(settings: Settings) -> str | None:
    if not settings.console_cognito_client_id:
        return None
    return f"https://cognito-idp.{settings.aws_region}.amazonaws.com"


def content_security_policy(settings: Settings) -> str:
    """Scripts and styles only from this origin (no inline ones), media only from the bucket, calls only to this API
    and the stack's Cognito; no frames, forms posted nowhere, no <base>."""
    media = " ".join(stored_video_origins(settings))
    connect = " ".join(filter(None, ["'self'", cognito_endpoint(settings)]))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' {media}",
            f"media-src {media}",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def console_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        # The files change with each deployment; revalidating is cheap next to a stale console.
        "Cache-Control": "no-cache",
    }


@cache
def _static_text(name: str) -> str:
    return (CONSOLE_DIR / name).read_text(encoding="utf-8")


def console_config(settings: Settings) -> ConsoleConfigResponse:
    client_id = settings.console_cognito_client_id
    cognito = ConsoleCognito(region=settings.aws_region, client_id=client_id) if client_id else None
    return ConsoleConfigResponse(sign_in="cognito" if cognito else "token", cognito=cognito)


@router.get("/console", include_in_schema=False, compress=True)
def get_console_page(settings: SettingsDep) -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=_static_text(PAGE),
        headers=console_headers(settings),
    )


@router.get("/console/<file>", include_in_schema=False, compress=True)
def get_console_file(file: str, settings: SettingsDep) -> Response[str]:
    headers = console_headers(settings)
    if file == CONFIG_FILE:
        body, content_type = console_config(settings).model_dump_json(), "application/json"
    elif file in STATIC_FILES:
        body, content_type = _static_text(file), STATIC_FILES[file]
    else:
        response = error_response(404, "route_not_found", f"The console has no file {file!r}.")
        response.headers.update(headers)
        return response
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)
