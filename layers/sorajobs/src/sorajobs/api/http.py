"""One resolver factory for every HTTP function: validation, the error envelope and body limits."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.depends import DependencyResolutionError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.api.dependencies import WIRING_CONTEXT_KEY
from sorajobs.models.api import ErrorBody, ErrorResponse
from sorajobs.models.errors import DomainError, TransitionConflict
from sorajobs.wiring import Wiring

logger = Logger(child=True)

API_TITLE = "Sora video jobs API"
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "Submit text-to-video generations to an OpenAI-Videos-compatible provider, follow them, "
    "and download the stored result."
)


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
        return error_response(404, "route_not_found", "No such route.")

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
        body = event.get("body") or ""
        limit = wiring.settings.max_request_body_bytes
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
        self.resolver.append_context(**{WIRING_CONTEXT_KEY: wiring})
        return self.resolver.resolve(event, context)


def openapi_document(*routers: APIGatewayHttpRouter) -> dict[str, Any]:
    """The OpenAPI document of the whole API, generated from the routers of every function."""
    schema = build_resolver(*routers).get_openapi_json_schema(
        title=API_TITLE, version=API_VERSION, description=API_DESCRIPTION
    )
    document: dict[str, Any] = json.loads(schema)
    _document_error_envelope(document)
    return document


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _document_error_envelope(document: dict[str, Any]) -> None:
    """Powertools documents its own 422 body ({"detail": [...]}) and no other error; every error the
    functions answer is the ErrorResponse envelope, with 4xx statuses beyond 422 (400, 401, 404, 409, 413, 415, 429)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorResponse"] = envelope
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _HTTP_METHODS:
                responses = operation.setdefault("responses", {})
                responses["422"] = {"description": "The request is not valid.", "content": content}
                responses["4XX"] = {"description": "The request was refused (see `error.code`).", "content": content}
    # Powertools' validation shapes, once nothing refers to them any more.
    for name in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):
        unused = schemas.pop(name, None)
        if unused is not None and f'"#/components/schemas/{name}"' in json.dumps(document):
            schemas[name] = unused
