"""OpenAI-style errors: ``{"error": {"message", "type", "param", "code"}}`` with realistic texts."""

from __future__ import annotations

from typing import Any

from local.emulation.api import EmulatedError


class ApiError(EmulatedError):
    """An error answer of the emulated API."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.error_type = error_type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


def invalid_value(param: str, value: object, allowed: list[str]) -> ApiError:
    return ApiError(
        400,
        f"Invalid value: {_show(value)}. Supported values are: {_quoted_list(allowed)}.",
        param=param,
        code="invalid_value",
    )


def invalid_type(param: str, expected: str, value: object) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing_parameter(param: str) -> ApiError:
    return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def unknown_parameter(param: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def video_not_found(video_id: str) -> ApiError:
    return ApiError(404, f"Video with id '{video_id}' not found.", param="video_id", code="video_not_found")


def invalid_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path})")


def http_error_for_status(
    status: int, code: str | None = None, message: str | None = None, error_type: str | None = None
) -> ApiError:
    """The envelope OpenAI uses for a generic status (rate limits, outages, ...)."""
    default_code: str | None = code
    if status == 429:
        default_type = "insufficient_quota" if code == "insufficient_quota" else "requests"
        default_code = code or "rate_limit_exceeded"
        default_message = (
            "You exceeded your current quota, please check your plan and billing details."
            if code == "insufficient_quota"
            else "Rate limit reached for requests. Please try again later."
        )
    elif status >= 500:
        default_type = "server_error"
        default_message = (
            "The server had an error while processing your request. Sorry about that!"
            if status == 500
            else "The server is overloaded or not ready yet."
        )
    else:
        default_type = "invalid_request_error"
        default_message = f"The request failed with status {status}."
    return ApiError(status, message or default_message, error_type=error_type or default_type, code=default_code)


def _show(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _quoted_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string"
