"""fal's error answers. Two documented shapes:

- model errors (https://docs.fal.ai/errors): ``{"detail": [{"loc", "msg", "type", "url", "ctx"?, "input"?}]}``
  with an optional ``X-Fal-Retryable`` header;
- request errors (https://docs.fal.ai/documentation/model-apis/request-errors): ``{"detail": "<text>",
  "error_type": "<category>"}`` with the category repeated in ``X-Fal-Error-Type``.

Queue-level answers (unknown request, result not ready, auth) carry ``{"detail": "<text>"}``.
"""

from __future__ import annotations

from typing import Any

from local.emulation.api import EmulatedError
from local.fal_emulator.models import ERROR_DOCS

# Request-error categories and their typical status, from the request-errors page.
REQUEST_ERROR_TYPES: dict[int, str] = {
    400: "bad_request",
    499: "client_cancelled",
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_scheduling_failure",
    504: "request_timeout",
}
_REQUEST_ERROR_TEXT: dict[str, str] = {
    "bad_request": "Bad request",
    "client_cancelled": "Request cancelled by the client",
    "internal_error": "Internal error",
    "runner_incomplete_response": "Runner sent an incomplete response",
    "runner_scheduling_failure": "No runner could be allocated to handle the request",
    "request_timeout": "Request timed out",
}
MISSING_KEY = "Authentication is required to access this application."
MALFORMED_KEY = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
UNKNOWN_KEY = "No user found for Key ID and Secret"


class FalError(EmulatedError):
    """An error answer of the emulated fal API: a status, fal's JSON body, headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, f"{status}: {body!r}", headers=headers)
        self.content = body

    def body(self) -> Any:
        return self.content


def detail(status: int, text: str) -> FalError:
    return FalError(status, {"detail": text})


def request_error(status: int, error_type: str | None = None, text: str | None = None) -> FalError:
    """A request error; the category defaults to the one the page lists for the status."""
    category = error_type or REQUEST_ERROR_TYPES.get(status)
    if category is None:
        return detail(status, text or f"Request failed with status {status}")
    message = text or _REQUEST_ERROR_TEXT.get(category, category.replace("_", " ").capitalize())
    return FalError(status, {"detail": message, "error_type": category}, {"X-Fal-Error-Type": category})


def model_error(status: int, entries: list[dict[str, Any]], *, retryable: bool) -> FalError:
    return FalError(status, {"detail": entries}, {"X-Fal-Retryable": "true" if retryable else "false"})


def model_error_entry(error_type: str, msg: str, arguments: dict[str, Any], field: str | None = None) -> dict[str, Any]:
    """A general (``["body"]``) or per-field model error, as the error reference shows them."""
    loc = ["body"] if field is None else ["body", field]
    value: Any = arguments if field is None else arguments.get(field)
    return {"loc": loc, "msg": msg, "type": error_type, "url": ERROR_DOCS + error_type, "input": value}


def request_not_found() -> FalError:
    return detail(404, "Request not found")


def result_not_ready() -> FalError:
    """The result of a request that has not completed: the queue page's documented 400."""
    return detail(400, "Request is still in progress")


def application_not_found(endpoint_id: str) -> FalError:
    return detail(404, f"Application '{endpoint_id}' not found")


def path_not_found(method: str, path: str) -> FalError:
    return detail(404 if method in ("GET", "PUT", "POST") else 405, "Not Found")
