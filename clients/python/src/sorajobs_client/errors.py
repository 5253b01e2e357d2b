"""Typed exceptions: the API's error envelope, network failures, waits, downloads and webhook signatures."""

from __future__ import annotations

from typing import Any

from sorajobs_client.models import Job


class SoraJobsError(Exception):
    """Every error this package raises."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(SoraJobsError):
    """No API URL or no token: neither given as an argument nor found in the environment."""

    code = "not_configured"


class ApiError(SoraJobsError):
    """The API answered an error: its envelope's code, message and details, the HTTP status and request id."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code
        self.details = details or []
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        request = f", request {self.request_id}" if self.request_id else ""
        return f"{self.message} ({self.code}, HTTP {self.status_code}{request})"


class BadRequestError(ApiError):
    """400: unsupported_model, unsupported_option, image_upload_not_found, invalid_json, invalid_cursor, ..."""


class AuthenticationError(ApiError):
    """401: the token is missing, malformed, expired, for another issuer, or has no subject."""


class PermissionDeniedError(ApiError):
    """403 forbidden: the token is good, but its caller may not do this (GET /doctor outside the admin group)."""


class NotFoundError(ApiError):
    """404: no such job for this caller (not_found), or no such route (route_not_found: a wrong API URL?)."""


class ConflictError(ApiError):
    """409: job_completed, not_ready, not_cancellable, conflict, request_in_progress."""


class PayloadTooLargeError(ApiError):
    """413: the request body is over the API's limit."""


class UnsupportedMediaTypeError(ApiError):
    """415: the body was not sent as application/json."""


class UnprocessableError(ApiError):
    """422: validation_error, idempotency_key_reused, webhook_url_not_allowed, or the provider's rejection."""

    @property
    def job_id(self) -> str | None:
        """The failed job kept for a provider's rejection, when details name it."""
        return _detail(self.details, "job_id")


class RateLimitedError(ApiError):
    """429: too_many_active_jobs, daily_spend_limit_reached (retry_after says when to try again)."""


class ServerError(ApiError):
    """5xx: internal_error and gateway failures, retried before this is raised."""


class ProviderUnavailableError(ServerError):
    """503: provider_not_configured, provider_auth_failed, provider_misconfigured (not retried: the deployment must
    change)."""

    @property
    def job_id(self) -> str | None:
        return _detail(self.details, "job_id")


class UnexpectedResponseError(ApiError):
    """An answer that is not what the contract says (the URL probably points at something else)."""


class NetworkError(SoraJobsError):
    """The API could not be reached (connection refused, DNS, TLS, timeouts), after the retries."""

    code = "network_error"


class WaitTimeout(SoraJobsError):
    """The job did not finish within the wait's timeout; it goes on at the provider.

    `job` is the last one seen (None if no poll answered)."""

    code = "wait_timeout"

    def __init__(self, message: str, job: Job | None) -> None:
        super().__init__(message)
        self.job = job


class DownloadError(SoraJobsError):
    """The downloaded file is not the stored video (size or SHA-256), or the presigned URL failed."""

    code = "download_failed"


class UploadError(SoraJobsError):
    """A reference image could not be uploaded: an unreadable file or type, or the signed upload refused it."""

    code = "upload_failed"


class WebhookVerificationError(SoraJobsError):
    """A webhook's signature, timestamp or headers do not check out."""

    code = "invalid_signature"


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableError,
    429: RateLimitedError,
}
_PROVIDER_CODES = frozenset({"provider_not_configured", "provider_auth_failed", "provider_misconfigured"})


def error_class(status_code: int, code: str) -> type[ApiError]:
    """The exception class for an error answer: by HTTP status, with the permanent 503s set apart."""
    if status_code == 503 and code in _PROVIDER_CODES:
        return ProviderUnavailableError
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, ApiError)


def _detail(details: list[dict[str, Any]], key: str) -> str | None:
    for detail in details:
        value = detail.get(key)
        if isinstance(value, str):
            return value
    return None
