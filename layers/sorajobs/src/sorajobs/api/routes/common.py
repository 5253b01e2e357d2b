"""Parameter types and OpenAPI declarations shared by the routes."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from sorajobs.api.contract import BEARER_SCHEME
from sorajobs.models.api import ErrorResponse, GatewayErrorResponse

JobIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The job id (`job_…`).")]

BEARER_JWT: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]

# Each error status this API answers: what it means, and one example of its envelope.
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: (
        "The request names something this deployment does not offer, or its body is not JSON "
        "(`unsupported_model`, `unsupported_option`, `image_upload_not_found`, `invalid_json`, `invalid_cursor`, "
        "`invalid_event`).",
        "unsupported_option",
        "sora-2 on openai takes seconds 4, 8, 12, not 5.",
    ),
    401: (
        "No valid bearer token (`unauthorized`; locally also `token_expired`, `invalid_token`), or for provider "
        "webhooks a bad signature (`invalid_signature`).",
        "unauthorized",
        "The request carries no authenticated subject: send Authorization: Bearer <JWT>.",
    ),
    403: (
        "The route is for the admin group only (`forbidden`).",
        "forbidden",
        "Only the admin group may run the doctor.",
    ),
    404: (
        "No such job for this caller (`not_found`; another owner's job is answered the same), or no such event.",
        "not_found",
        "No video job with id 'job_0123456789abcdef01234567'.",
    ),
    409: (
        "The job's state does not allow this now (`job_completed`, `not_ready`, `no_video`, `not_cancellable`, "
        "`conflict`, `request_in_progress`); `details` says the job's status.",
        "not_ready",
        "The video is not ready yet: the job is in_progress at 42 %. Poll GET /videos/{id} until ready is true.",
    ),
    413: (
        "The request body is over the limit (`payload_too_large`).",
        "payload_too_large",
        "The request body is 2000000 bytes; this API takes at most 1048576.",
    ),
    415: (
        "The body is not labelled `Content-Type: application/json` (`unsupported_media_type`).",
        "unsupported_media_type",
        "POST /videos takes a JSON body: send it with Content-Type: application/json.",
    ),
    422: (
        "The request is valid JSON but not a valid request (`validation_error`, `idempotency_key_reused`, "
        "`webhook_url_not_allowed`), or the provider refused the generation (its own code, e.g. "
        "`moderation_blocked`; the failed job's id is in `details`).",
        "validation_error",
        "The request is not valid: body.prompt: Field required.",
    ),
    429: (
        "An admission limit is reached (`too_many_active_jobs`, `daily_spend_limit_reached`); see `Retry-After`.",
        "too_many_active_jobs",
        "This owner already has 3 unfinished jobs; retry when one finishes.",
    ),
    500: (
        "Something failed on the server's side (`internal_error`); the request can be retried.",
        "internal_error",
        "Something went wrong on our side; the request can be retried.",
    ),
    503: (
        "The provider cannot be used (`provider_not_configured`, `provider_auth_failed`).",
        "provider_not_configured",
        "The provider fal has no key configured here; nothing was written.",
    ),
}
ERROR_STATUSES = frozenset(_ERRORS)
# Statuses a deployed API Gateway may also answer itself, in its own shape (GatewayErrorResponse).
GATEWAY_STATUSES = frozenset({401, 413, 429, 500, 503})


def error_example(status: int) -> dict[str, Any]:
    _, code, message = _ERRORS[status]
    return {"error": {"code": code, "message": message, "details": []}}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of these error statuses, each the one error envelope with an example."""
    responses: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        description, code, _ = _ERRORS[status]
        example = {"value": error_example(status)}
        response: OpenAPIResponse = {
            "description": description,
            "content": {"application/json": {"model": _error_model(status), "examples": {code: example}}},
        }
        if status in (409, 429):
            response["headers"] = retry_after_header("Seconds to wait before trying again, when waiting helps.")
        responses[status] = response
    return responses


def _error_model(status: int) -> Any:
    return ErrorResponse | GatewayErrorResponse if status in GATEWAY_STATUSES else ErrorResponse


def retry_after_header(description: str) -> dict[str, Any]:
    return {"Retry-After": {"description": description, "schema": {"type": "integer", "minimum": 0}}}
