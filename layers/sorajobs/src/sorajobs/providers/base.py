"""The provider interface: submit, retrieve, list recent, download (streaming) and delete a generation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sorajobs.models.job import JobError, VideoSeconds, VideoSize

ContentVariant = Literal["video", "thumbnail"]


class GenerationRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    model: str
    seconds: VideoSeconds
    size: VideoSize


class ProviderVideo(BaseModel):
    """What the provider says about one generation. `status` is kept verbatim, known or not."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    status: str
    progress: Annotated[int, Field(ge=0, le=100)] = 0
    error: JobError | None = None
    expires_at: int | None = None
    completed_at: int | None = None
    # The provider's hint (openai-poll-after-ms) for when to ask again.
    poll_after_seconds: float | None = None
    # What was asked for, and when (unix seconds): a create whose answer was lost is found by these.
    created_at: int | None = None
    prompt: str | None = None
    model: str | None = None
    seconds: str | None = None
    size: str | None = None

    def answers(self, request: GenerationRequest) -> bool:
        """This generation is what the request asked for."""
        asked = (request.prompt, request.model, request.seconds, request.size)
        return (self.prompt, self.model, self.seconds, self.size) == asked


class ProviderError(Exception):
    """Base of every provider failure; `code` is the provider's code or ours."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after


class GenerationRejectedError(ProviderError):
    """The provider refused the request for good (400/422: invalid or moderated prompt)."""


class ProviderVideoNotFoundError(ProviderError):
    """The provider does not know the video (deleted, or never existed)."""


class ContentUnavailableError(ProviderError):
    """The finished video's content can no longer be downloaded (expired or removed)."""


class ProviderTemporaryError(ProviderError):
    """Rate limits, 5xx, network faults and misconfiguration: keep the job and try again later."""


class ProviderRateLimitedError(ProviderTemporaryError):
    """The provider answered 429: every function should hold back until `retry_after` has passed."""


class VideoDownload(Protocol):
    content_type: str
    content_length: int | None

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]: ...


class VideoProvider(Protocol):
    def submit(self, request: GenerationRequest) -> ProviderVideo: ...

    def retrieve(self, provider_video_id: str) -> ProviderVideo: ...

    def created_since(self, moment: int) -> Iterator[ProviderVideo]:
        """The generations created at or after `moment` (unix seconds), newest first."""
        ...

    def download(self, provider_video_id: str, variant: ContentVariant) -> AbstractContextManager[VideoDownload]: ...

    def delete(self, provider_video_id: str) -> None: ...
