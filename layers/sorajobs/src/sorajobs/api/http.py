"""One resolver factory for every HTTP function: validation, the error envelope and body limits."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.models.api import ErrorBody, ErrorResponse
from sorajobs.models.errors import DomainError, TransitionConflict
from sorajobs.services import get_services

logger = Logger(child=True)


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
            return error_response(400, "invalid_json", "The request body is not valid JSON.", details)
        return error_response(422, "validation_error", "The request is not valid.", details)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[str]:
        return error_response(415, "unsupported_media_type", "The request body must be application/json.")

    @app.exception_handler(UnicodeDecodeError)
    def body_not_utf8(error: UnicodeDecodeError) -> Response[str]:
        # Powertools decodes a base64 body as UTF-8 before parsing it; JSON is UTF-8.
        return error_response(400, "invalid_json", "The request body is not valid JSON (it is not UTF-8).")

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        headers = {"Retry-After": str(int(error.retry_after))} if error.retry_after else None
        return error_response(error.status_code, error.code, error.message, error.details, headers)

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
        return error_response(404, "route_not_found", "No such route.")

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        logger.exception("Unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side; the request can be retried.")

    return app


class HttpFunction:
    """The Lambda entry point of one HTTP function: enforces the body limit, then routes."""

    def __init__(self, *routers: APIGatewayHttpRouter) -> None:
        self.resolver = build_resolver(*routers)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        body = event.get("body") or ""
        limit = get_services().settings.max_request_body_bytes
        # base64 bodies are 4/3 the size of what they carry, less one byte per "=" of padding
        size = len(body) * 3 // 4 - body[-2:].count("=") if event.get("isBase64Encoded") else len(body.encode())
        if size > limit:
            response = error_response(413, "payload_too_large", f"The request body exceeds {limit} bytes.")
            return {
                "statusCode": response.status_code,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": response.body,
                "isBase64Encoded": False,
            }
        return self.resolver.resolve(event, context)
