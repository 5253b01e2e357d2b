"""Runway's error bodies: ``{"error": "<human-readable reason>"}``, with ``issues`` (zod-style, one per problem) on
validation failures and a ``docUrl`` on the errors its API gateway answers."""

from __future__ import annotations

from typing import Any

from local.emulation.api import EmulatedError

DOC_URL = "https://docs.dev.runwayml.com/api"
VALIDATION_FAILED = "Validation of body failed"


class RunwayError(EmulatedError):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        issues: list[dict[str, Any]] | None = None,
        doc_url: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.issues = issues
        self.doc_url = doc_url

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.issues is not None:
            body["issues"] = self.issues
        if self.doc_url:
            body["docUrl"] = DOC_URL
        return body


def validation_failed(issues: list[dict[str, Any]]) -> RunwayError:
    return RunwayError(400, VALIDATION_FAILED, issues=issues, doc_url=True)


def missing_api_key() -> RunwayError:
    return RunwayError(
        401,
        "No API key was provided. Pass your key in the Authorization header as 'Bearer <key>'.",
        doc_url=True,
    )


def invalid_api_key() -> RunwayError:
    return RunwayError(401, "The API key you provided is not valid.", doc_url=True)


def missing_version() -> RunwayError:
    return RunwayError(400, "You must provide an API version in the X-Runway-Version header.", doc_url=True)


def invalid_version() -> RunwayError:
    return RunwayError(
        400, "The API version that was provided in the X-Runway-Version header is not valid.", doc_url=True
    )


def task_not_found() -> RunwayError:
    return RunwayError(404, "Could not find Task")


def not_found() -> RunwayError:
    return RunwayError(404, "Not Found")


def method_not_allowed() -> RunwayError:
    return RunwayError(405, "Method Not Allowed")


def not_enough_credits() -> RunwayError:
    return RunwayError(400, "You do not have enough credits to run this task.")


def unparseable_json() -> RunwayError:
    return RunwayError(400, "The request body is not valid JSON.")


_STATUS_MESSAGES = {
    429: "You have exceeded the rate limit for this endpoint. Please retry later.",
    500: "An internal error occurred.",
    502: "Runway is shedding load. Please retry later.",
    503: "Runway is shedding load. Please retry later.",
    504: "Runway is overloaded and could not complete the request in time.",
}


def http_error_for_status(status: int, message: str | None = None) -> RunwayError:
    """The error of a status the API answers on its own (rate limits, load shedding, outages)."""
    return RunwayError(status, message or _STATUS_MESSAGES.get(status, f"The request failed with status {status}."))
