"""Runway's tasks API through the official `runwayml` SDK: POST /v1/text_to_video or /v1/image_to_video, then
GET /v1/tasks/{id} until it ends, and DELETE /v1/tasks/{id} to cancel. Runway sends no webhooks: the sweep polls.

A create is never retried (the SDK retries POSTs by default; a duplicate is a second bill), and tasks cannot be
listed, so a create whose answer was lost cannot be found again (see LostCreates).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import runwayml
from runwayml import RunwayML

from sorajobs.catalog import CAPABILITIES, ProviderName
from sorajobs.clock import Clock, SystemClock
from sorajobs.models.job import ErrorCategory, JobError
from sorajobs.providers.base import (
    ContentUnavailableError,
    ContentVariant,
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderState,
    ProviderTemporaryError,
    ProviderVideo,
    ProviderVideoNotFoundError,
)
from sorajobs.providers.output_files import StreamedOutput, output_client, stream_fresh_output
from sorajobs.retry_after import retry_after_seconds

# The task's `status`, in our words.
STATES = {
    "PENDING": ProviderState.QUEUED,  # accepted, waiting for capacity
    "THROTTLED": ProviderState.QUEUED,  # over the organisation's concurrency: waits, it is not an error
    "RUNNING": ProviderState.RUNNING,  # `progress` 0-1
    "SUCCEEDED": ProviderState.SUCCEEDED,  # `output` URLs, expiring within 24-48 h; a new GET gives fresh ones
    "FAILED": ProviderState.FAILED,  # `failureCode` says why; SAFETY.* is a content-policy refusal
    "CANCELLED": ProviderState.CANCELLED,  # cancelled or deleted
}


def failure_category(failure_code: str | None) -> ErrorCategory:
    """Runway's task failure codes (docs.dev.runwayml.com/errors/task-failures) in our words."""
    code = (failure_code or "").upper()
    if "SAFETY" in code:
        return ErrorCategory.CONTENT_POLICY  # never retried: the same input is refused again
    if code.startswith(("ASSET", "INPUT_PREPROCESSING")):
        return ErrorCategory.INVALID_REQUEST
    return ErrorCategory.PROVIDER_INTERNAL


def ratio(size: str) -> str:
    """Our "1280x720" is Runway's "1280:720"."""
    return size.replace("x", ":")


def translate_sdk_error(error: Exception, *, now: datetime, on_create: bool = False) -> ProviderError:
    """Turns a runwayml exception into the provider interface's error types."""
    if isinstance(error, runwayml.APITimeoutError):
        return ProviderTemporaryError(
            "provider_timeout", "Runway did not answer in time.", category=ErrorCategory.TIMEOUT
        )
    if isinstance(error, runwayml.APIConnectionError):
        return ProviderTemporaryError("provider_unreachable", "Runway could not be reached.")
    if isinstance(error, runwayml.APIStatusError):
        message = _error_message(error)
        retry_after = retry_after_seconds(error.response.headers, now)
        if isinstance(error, runwayml.AuthenticationError | runwayml.PermissionDeniedError):
            return ProviderAuthError("provider_auth_failed", message)
        if isinstance(error, runwayml.NotFoundError):
            return ProviderVideoNotFoundError("not_found", message)
        if on_create and isinstance(error, runwayml.BadRequestError | runwayml.UnprocessableEntityError):
            category = ErrorCategory.QUOTA if "credit" in message.lower() else ErrorCategory.INVALID_REQUEST
            return GenerationRejectedError("invalid_request", message, category=category)
        if isinstance(error, runwayml.RateLimitError):
            return ProviderRateLimitedError(
                "rate_limited", message, retry_after=retry_after, category=ErrorCategory.QUOTA
            )
        return ProviderTemporaryError(
            f"provider_http_{error.status_code}",
            message,
            retry_after=retry_after,
            category=ErrorCategory.PROVIDER_INTERNAL,
        )
    raise error


def _error_message(error: runwayml.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return error.message


def _video_from_task(task: Any) -> ProviderVideo:
    status = str(task.status)
    state = STATES.get(status)
    error = None
    if state is ProviderState.FAILED:
        code = getattr(task, "failure_code", None)
        error = JobError(
            code=code or "generation_failed",
            message=str(getattr(task, "failure", "") or "Runway failed the generation."),
            category=failure_category(code),
        )
    created = getattr(task, "created_at", None)
    return ProviderVideo(
        id=task.id,
        state=state,
        status=status,
        progress=max(0, min(100, round(float(getattr(task, "progress", 0) or 0) * 100))),
        error=error,
        created_at=int(created.timestamp()) if created else None,
    )


class RunwayTasksProvider:
    """Calls Runway through `runwayml`; reads are retried by the SDK, creates never are."""

    name: ProviderName = "runway"
    capabilities = CAPABILITIES["runway"]

    def __init__(self, client: RunwayML, output_http: httpx.Client, clock: Clock | None = None) -> None:
        self._client = client
        self._create_client = client.with_options(max_retries=0)
        self._output_http = output_http
        self._clock: Clock = clock or SystemClock()

    def _translate(self, error: Exception, *, on_create: bool = False) -> ProviderError:
        return translate_sdk_error(error, now=self._clock.now(), on_create=on_create)

    def submit(self, request: GenerationRequest) -> ProviderVideo:
        params: dict[str, Any] = {
            "model": request.model,
            "prompt_text": request.prompt,
            "ratio": ratio(request.size),
            "duration": int(request.seconds),
        }
        try:
            if request.image_url:
                created = self._create_client.image_to_video.create(prompt_image=request.image_url, **params)
            else:
                created = self._create_client.text_to_video.create(**params)
        except runwayml.RunwayMLError as error:
            raise self._translate(error, on_create=True) from error
        return ProviderVideo(id=created.id, state=ProviderState.QUEUED, status="PENDING")

    def retrieve(self, provider_video_id: str) -> ProviderVideo:
        return _video_from_task(self._task(provider_video_id))

    def _task(self, task_id: str) -> Any:
        try:
            return self._client.tasks.retrieve(task_id)
        except runwayml.RunwayMLError as error:
            raise self._translate(error) from error

    def check_access(self, model: str) -> None:
        """Reads a task that does not exist: Runway checks the key first (401), then answers 404."""
        try:
            self._client.tasks.retrieve(str(uuid.uuid4()))
        except runwayml.NotFoundError:
            return
        except runwayml.RunwayMLError as error:
            raise self._translate(error) from error

    def created_since(self, moment: int) -> Iterator[ProviderVideo]:
        return iter(())  # tasks cannot be listed

    @contextmanager
    def download(self, provider_video_id: str, variant: ContentVariant) -> Iterator[StreamedOutput]:
        """The task's output, from a URL fetched now (they expire); once more with a fresher one if refused."""
        if variant != "video":
            raise ContentUnavailableError("no_thumbnail", "Runway makes no thumbnails.")
        with stream_fresh_output(self._output_http, lambda: self._output_url(provider_video_id)) as output:
            yield output

    def _output_url(self, task_id: str) -> str:
        try:
            task = self._task(task_id)
        except ProviderVideoNotFoundError as missing:
            raise ContentUnavailableError("content_unavailable", missing.message) from missing
        if str(task.status) != "SUCCEEDED" or not getattr(task, "output", None):
            raise ContentUnavailableError("content_unavailable", f"The task is {task.status}, with no output.")
        return str(task.output[0])

    def cancel(self, provider_video_id: str) -> bool:
        try:
            self._client.tasks.delete(provider_video_id)
        except runwayml.NotFoundError:
            return False
        except runwayml.RunwayMLError as error:
            raise self._translate(error) from error
        return True


def build_runway_provider(
    *,
    api_key: str,
    base_url: str,
    timeout_seconds: float,
    max_retries: int,
    clock: Clock,
    transport: httpx.BaseTransport | None = None,
) -> RunwayTasksProvider:
    """`transport` replaces the connection pools of the API and of output files (tests pass one)."""
    client = RunwayML(
        api_key=api_key,
        base_url=base_url,
        max_retries=max_retries,
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        http_client=None if transport is None else runwayml.DefaultHttpxClient(transport=transport),
    )
    return RunwayTasksProvider(client, output_client(timeout_seconds, transport), clock)
