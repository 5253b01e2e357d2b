"""One resolver factory for every HTTP function: validation, the error envelope and body limits."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.depends import DependencyResolutionError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.api.dependencies import WIRING_CONTEXT_KEY
from sorajobs.models.api import ErrorBody, ErrorResponse
from sorajobs.models.errors import DomainError, TransitionConflict
from sorajobs.wiring import Wiring

logger = Logger(child=True)

# A body with no Content-Type is read as JSON too, as Powertools does.
_JSON_MEDIA_TYPES = frozenset({"", "application/json"})
RAW_BODY_PATH_PREFIX = "/provider-webhooks/"


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []))
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
        headers=headers,
    )


def domain_error_response(error: DomainError) -> Response[str]:
    headers = {"Retry-After": str(int(error.retry_after))} if error.retry_after else None
    return error_response(error.status_code, error.code, error.message, error.details, headers)


def internal_error_response() -> Response[str]:
    """A 500 for what nobody expected, logged with its traceback (called while the exception is handled)."""
    logger.exception("Unhandled error")
    return error_response(500, "internal_error", "Something went wrong on our side; the request can be retried.")


def _media_type(event: BaseProxyEvent) -> str:
    return (event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def _body_must_be_json(event: BaseProxyEvent) -> bool:
    """Every body this API reads is JSON, but for the provider webhooks, which read the signed bytes as sent."""
    return bool(event.body) and not event.path.startswith(RAW_BODY_PATH_PREFIX)


def not_json(event: BaseProxyEvent) -> Response[str]:
    media_type = _media_type(event)
    return error_response(
        415,
        "unsupported_media_type",
        f"{event.http_method} {event.path} takes a JSON body, not {media_type}: send it with "
        "Content-Type: application/json (curl: --json, or -H 'Content-Type: application/json').",
        [{"content_type": media_type}],
    )


def route_not_found(event: BaseProxyEvent) -> Response[str]:
    message = f"No route {event.http_method} {event.path}: GET /openapi.json lists the routes (and /docs shows them)."
    if event.http_method == "OPTIONS" and "access-control-request-method" in event.headers:
        message += " This deployment allows no browser origin (CORS): set CorsAllowedOrigins to allow one."
    return error_response(404, "route_not_found", message)


def _validation_message(details: list[dict[str, Any]]) -> str:
    first = details[0] if details else {}
    where = ".".join(first.get("loc", [])) or "request"
    more = f" ({len(details) - 1} more in details)" if len(details) > 1 else ""
    return f"The request is not valid: {where}: {first.get('msg', 'invalid')}{more}."


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        details.append(
            {
                "loc": [str(part) for part in item.get("loc", ())],
                "type": item.get("type"),
                "msg": item.get("msg"),
            }
        )
    return details


def build_resolver(*routers: APIGatewayHttpRouter) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        details = _validation_details(error)
        if any(detail["type"] == "json_invalid" for detail in details):
            return error_response(
                400, "invalid_json", "The request body is not valid JSON: check its syntax (see details).", details
            )
        return error_response(422, "validation_error", _validation_message(details), details)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[str]:
        return not_json(app.current_event)

    @app.exception_handler(UnicodeDecodeError)
    def body_not_utf8(error: UnicodeDecodeError) -> Response[str]:
        # Powertools decodes a base64 body as UTF-8 before parsing it; JSON is UTF-8.
        return error_response(400, "invalid_json", "The request body is not valid JSON (it is not UTF-8).")

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        return domain_error_response(error)

    @app.exception_handler(DependencyResolutionError)
    def dependency_refused(error: DependencyResolutionError) -> Response[str]:
        # Powertools wraps what a dependency raises; a refusal (no authenticated subject) keeps its answer.
        if isinstance(error.__cause__, DomainError):
            return domain_error_response(error.__cause__)
        return internal_error_response()

    @app.exception_handler(TransitionConflict)
    def concurrent_change(error: TransitionConflict) -> Response[str]:
        return error_response(
            409,
            "conflict",
            "The job changed while this request ran; fetch it and try again.",
            headers={"Retry-After": "1"},
        )

    @app.not_found
    def unknown_route(error: Exception) -> Response[str]:
        return route_not_found(app.current_event)

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        return internal_error_response()

    return app


class HttpFunction:
    """The Lambda entry point of one HTTP function: enforces the body limit, then routes."""

    def __init__(self, *routers: APIGatewayHttpRouter) -> None:
        self.resolver = build_resolver(*routers)

    def handle(self, event: dict[str, Any], context: LambdaContext, wiring: Wiring) -> dict[str, Any]:
        """Answers one request with the routes' collaborators taken from `wiring`."""
        refused = refused_before_routing(event, wiring.settings.max_request_body_bytes)
        if refused is not None:
            return refused
        self.resolver.append_context(**{WIRING_CONTEXT_KEY: wiring})
        return self.resolver.resolve(event, context)


def refused_before_routing(event: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """What is answered without routing: whatever API Gateway's `$default` route caught (no route matched: never
    handed to a route of this function, which would skip the authorizer), bodies that are not JSON (Powertools
    would parse a form or multipart body into the model) and bodies over the limit."""
    response: Response[str] | None = None
    proxy_event = APIGatewayProxyEventV2(event)
    if event.get("routeKey") == "$default":
        response = route_not_found(proxy_event)
    elif _body_must_be_json(proxy_event) and _media_type(proxy_event) not in _JSON_MEDIA_TYPES:
        response = not_json(proxy_event)
    else:
        body = event.get("body") or ""
        # base64 bodies are 4/3 the size of what they carry, less one byte per "=" of padding
        size = len(body) * 3 // 4 - body[-2:].count("=") if event.get("isBase64Encoded") else len(body.encode())
        if size > limit:
            response = error_response(
                413,
                "payload_too_large",
                f"The request body is {size} bytes; this API takes at most {limit}, more than any valid request "
                "needs (a prompt of 32,000 characters included): check what is being sent.",
            )
    if response is None:
        return None
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }
