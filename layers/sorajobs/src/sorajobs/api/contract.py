"""The API's published contract: the OpenAPI document of every function's routes, and its interactive page.

Each function has its own resolver, so no one resolver knows the whole API: the document is generated from a
resolver holding every router, then completed with what Powertools does not write itself (the one error shape
in place of its validation body, catch-all error responses, no empty bodies on redirects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.http import build_resolver
from sorajobs.models.api import ErrorResponse, GatewayErrorResponse

API_TITLE = "Sora video jobs API"
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "Submit video generations to fal, Runway or an OpenAI-Videos-compatible provider, follow them, and download "
    "the stored result. Every error answers one shape, `ErrorResponse`: `error.code` is stable, `error.message` "
    "says what to do. Authenticated operations take `Authorization: Bearer <JWT>`."
)
# The name of the HTTP API's JWT authorizer in the document; every route but the public ones names it.
BEARER_SCHEME = "bearerJwt"
_BEARER_DESCRIPTION = (
    "An ID or access token of the deployment's issuer (the stack's Cognito user pool by default); "
    "locally, the token `make local` prints."
)
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_ANY_ERROR_CONTENT = {
    "application/json": {
        "schema": {
            "anyOf": [
                {"$ref": "#/components/schemas/ErrorResponse"},
                {"$ref": "#/components/schemas/GatewayErrorResponse"},
            ]
        }
    }
}


def openapi_document(*routers: APIGatewayHttpRouter) -> dict[str, Any]:
    """The OpenAPI document of the whole API, generated from the routers of every function."""
    # Powertools' OpenAPI models (41 pydantic models) load here, when the document is asked for, not when a
    # function that declares routes starts: about a tenth of an HTTP function's import.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    schema = build_resolver(*routers).get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description=API_DESCRIPTION,
        security_schemes={BEARER_SCHEME: HTTPBearer(bearerFormat="JWT", description=_BEARER_DESCRIPTION)},
    )
    document: dict[str, Any] = json.loads(schema)
    _document_error_envelope(document)
    return document


def _document_error_envelope(document: dict[str, Any]) -> None:
    """Powertools documents its own 422 body ({"detail": [...]}); every error this API answers is the
    ErrorResponse envelope, so each operation's 422 is that, and any 4xx or 5xx not listed is too."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorResponse"] = envelope
    schemas["GatewayErrorResponse"] = GatewayErrorResponse.model_json_schema()
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            validation = responses.get("422", {})
            if "HTTPValidationError" in json.dumps(validation):
                responses["422"] = {"description": "The request is not valid.", "content": _ERROR_CONTENT}
            responses["4XX"] = {"description": "Any other refusal (see `error.code`).", "content": _ANY_ERROR_CONTENT}
            responses["5XX"] = {"description": "A failure on the server's side.", "content": _ANY_ERROR_CONTENT}
            for response in responses.values():
                if response.get("content") == {}:
                    del response["content"]  # a redirect has no body
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "anyOf" in schema:
                    schema.pop("title", None)  # Powertools names a union after the parameter ("Return")
    # Powertools' validation shapes, once nothing refers to them any more.
    for name in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):
        unused = schemas.pop(name, None)
        if unused is not None and f'"#/components/schemas/{name}"' in json.dumps(document):
            schemas[name] = unused


def docs_page(document: dict[str, Any]) -> str:
    """Swagger UI for the document, with Powertools' bundled copy of its script and style (no CDN)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    bundle = Path(swagger_ui.__file__).parent
    script = (bundle / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    style = (bundle / "swagger-ui.min.css").read_text(encoding="utf-8")
    # "</" inside the inlined JSON would end the <script> element early.
    spec = json.dumps(document).replace("</", "<\\/")
    return generate_swagger_html(spec, script, style, "", None, persist_authorization=True)
