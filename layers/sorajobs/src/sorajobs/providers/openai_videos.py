"""The OpenAI Videos API (`/v1/videos`) through the official SDK; works with any compatible gateway."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import httpx2  # the SDK's HTTP transport; its errors surface while a streamed body is read
import openai
from openai import OpenAI
from openai.types import VideoSeconds, VideoSize

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
from sorajobs.retry_after import retry_after_seconds

# The video object's `status`, in our words.
STATES = {
    "queued": ProviderState.QUEUED,  # accepted, not started
    "in_progress": ProviderState.RUNNING,  # rendering; `progress` 0-100
    "completed": ProviderState.SUCCEEDED,  # content downloadable until `expires_at`
    "failed": ProviderState.FAILED,  # `error.code` says why
}
# Failure codes of a generation that name a content-policy refusal.
CONTENT_POLICY_CODES = frozenset({"moderation_blocked", "sentinel_block", "content_policy_violation"})

# Every client.videos.* call warns that OpenAI's hosted Videos API is retired; gateways still serve it.
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)
# The largest page `GET /videos` serves.
LIST_PAGE_SIZE = 100


def _error_code(error: openai.APIStatusError, fallback: str) -> str:
    return str(error.code) if error.code else fallback


def _error_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return error.message


def failure_category(code: str) -> ErrorCategory:
    return ErrorCategory.CONTENT_POLICY if code in CONTENT_POLICY_CODES else ErrorCategory.PROVIDER_INTERNAL


def translate_sdk_error(error: Exception, *, now: datetime, on_create: bool = False) -> ProviderError:
    """Turns an SDK exception into the provider interface's error types."""
    if isinstance(error, openai.APITimeoutError):
        return ProviderTemporaryError(
            "provider_timeout", "The provider did not answer in time.", category=ErrorCategory.TIMEOUT
        )
    if isinstance(error, openai.APIConnectionError):
        return ProviderTemporaryError("provider_unreachable", "The provider could not be reached.")
    if isinstance(error, openai.APIStatusError):
        retry_after = retry_after_seconds(error.response.headers, now)
        message = _error_message(error)
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return ProviderAuthError("provider_auth_failed", message)
        if isinstance(error, openai.NotFoundError):
            return ProviderVideoNotFoundError(_error_code(error, "not_found"), message)
        if on_create and isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
            code = _error_code(error, "invalid_request")
            category = ErrorCategory.CONTENT_POLICY if code in CONTENT_POLICY_CODES else ErrorCategory.INVALID_REQUEST
            return GenerationRejectedError(code, message, category=category)
        if isinstance(error, openai.RateLimitError):
            code = _error_code(error, "rate_limited")
            if code == "insufficient_quota":  # the account is out of credit: no retry mends it
                return GenerationRejectedError(code, message, category=ErrorCategory.QUOTA)
            return ProviderRateLimitedError(code, message, retry_after=retry_after, category=ErrorCategory.QUOTA)
        return ProviderTemporaryError(
            _error_code(error, f"provider_http_{error.status_code}"),
            message,
            retry_after=retry_after,
            category=ErrorCategory.PROVIDER_INTERNAL,
        )
    raise error


def _video_from_sdk(video: Any, poll_after_ms: str | None = None) -> ProviderVideo:
    error = getattr(video, "error", None)
    poll_after = None
    if poll_after_ms:
        try:
            poll_after = float(poll_after_ms) / 1000
        except ValueError:
            poll_after = None
    status = str(video.status)
    code = str(getattr(error, "code", None) or "generation_failed")
    return ProviderVideo(
        id=video.id,
        state=STATES.get(status),
        status=status,
        progress=max(0, min(100, int(video.progress or 0))),
        error=JobError(code=code, message=str(error.message or ""), category=failure_category(code)) if error else None,
        expires_at=getattr(video, "expires_at", None),
        completed_at=getattr(video, "completed_at", None),
        poll_after_seconds=poll_after,
        created_at=getattr(video, "created_at", None),
        prompt=getattr(video, "prompt", None),
        model=_text_or_none(getattr(video, "model", None)),
        seconds=_text_or_none(getattr(video, "seconds", None)),
        size=_text_or_none(getattr(video, "size", None)),
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class _StreamingDownload:
    def __init__(self, response: Any) -> None:
        self._response = response
        self.content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        length = response.headers.get("content-length")
        self.content_length = int(length) if length and length.isdigit() else None

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes(chunk_size=chunk_size)
        except (httpx2.HTTPError, openai.APIError) as error:
            raise ProviderTemporaryError("download_interrupted", f"The download broke off: {error}") from error


class OpenAIVideosProvider:
    """Calls `/v1/videos` through the openai SDK.

    Reads are retried by the SDK (`max_retries`); a create never is: the API takes no idempotency key,
    so a create whose answer was lost is looked for with `created_since` before it is sent again.
    """

    name: ProviderName = "openai"
    capabilities = CAPABILITIES["openai"]

    def __init__(self, client: OpenAI, clock: Clock | None = None) -> None:
        self._client = client
        self._clock: Clock = clock or SystemClock()  # reads a Retry-After that is an HTTP date
        self._create_client = client.with_options(max_retries=0)

    def _translate(self, error: Exception, *, on_create: bool = False) -> ProviderError:
        return translate_sdk_error(error, now=self._clock.now(), on_create=on_create)

    def submit(self, request: GenerationRequest) -> ProviderVideo:
        try:
            video = self._create_client.videos.create(
                prompt=request.prompt,
                model=request.model,
                seconds=cast("VideoSeconds", request.seconds),  # the catalog allows only the SDK's values
                size=cast("VideoSize", request.size),
            )
        except openai.OpenAIError as error:
            raise self._translate(error, on_create=True) from error
        return _video_from_sdk(video)

    def retrieve(self, provider_video_id: str) -> ProviderVideo:
        try:
            raw = self._client.videos.with_raw_response.retrieve(provider_video_id)
            video = raw.parse()
        except openai.OpenAIError as error:
            raise self._translate(error) from error
        return _video_from_sdk(video, raw.headers.get("openai-poll-after-ms"))

    def created_since(self, moment: int) -> Iterator[ProviderVideo]:
        try:
            for video in self._client.videos.list(order="desc", limit=LIST_PAGE_SIZE):
                if video.created_at < moment:
                    return
                yield _video_from_sdk(video)
        except openai.OpenAIError as error:
            raise self._translate(error) from error

    @contextmanager
    def download(self, provider_video_id: str, variant: ContentVariant) -> Iterator[_StreamingDownload]:
        try:
            with self._client.videos.with_streaming_response.download_content(
                provider_video_id, variant=variant
            ) as response:
                yield _StreamingDownload(response)
        except openai.NotFoundError as error:
            raise ContentUnavailableError(_error_code(error, "content_unavailable"), _error_message(error)) from error
        except openai.OpenAIError as error:
            raise self._translate(error) from error

    def cancel(self, provider_video_id: str) -> bool:
        """The API has no cancel: the generation runs on (and is billed) whatever we do."""
        return False

    def check_access(self, model: str) -> None:
        """Lists one generation (GET /videos?limit=1): a gateway at the right URL answers, whatever the model."""
        try:
            self._client.videos.list(limit=1)
        except openai.OpenAIError as error:
            raise self._translate(error) from error

    def delete(self, provider_video_id: str) -> None:
        try:
            self._client.videos.delete(provider_video_id)
        except openai.NotFoundError:
            return
        except openai.OpenAIError as error:
            raise self._translate(error) from error


def build_openai_provider(
    *,
    api_key: str,
    base_url: str | None,
    timeout_seconds: float,
    max_retries: int,
    clock: Clock | None = None,
    transport: httpx2.BaseTransport | None = None,
) -> OpenAIVideosProvider:
    """`transport` replaces the SDK's own connection pool (tests pass one over their emulator)."""
    client = OpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=max_retries,
        timeout=openai.Timeout(timeout_seconds, connect=5.0),
        http_client=None if transport is None else openai.DefaultHttpxClient(transport=transport),
    )
    return OpenAIVideosProvider(client, clock)
