"""The provider interface every provider module fits: submit, retrieve (a normalised state), find a create whose
answer was lost, stream the output, cancel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sorajobs.catalog import ProviderCapabilities, ProviderName
from sorajobs.models.job import ErrorCategory, JobError

ContentVariant = Literal["video", "thumbnail"]


class ProviderState(StrEnum):
    """A generation's state in the same words for every provider; each module maps its own statuses here."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class GenerationRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    model: str
    seconds: str
    size: str
    # An https image to animate (image-to-video); only for models that take one.
    image_url: str | None = None
    # Where the provider should post its completion (providers with per-request webhooks: fal).
    webhook_url: str | None = None


class ProviderVideo(BaseModel):
    """What the provider says about one generation. `status` is the provider's own word, kept verbatim;
    `state` is None when the module does not know that word (the report is then logged and ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    state: ProviderState | None
    status: str = ""
    progress: Annotated[int, Field(ge=0, le=100)] = 0
    # How many requests are ahead of this one in the provider's queue, when the provider says.
    queue_position: Annotated[int, Field(ge=0)] | None = None
    error: JobError | None = None
    expires_at: int | None = None
    completed_at: int | None = None
    # When rendering began (unix seconds), and how long it took, where the provider says (fal: its runner's first
    # log line, and `metrics.inference_time`).
    started_at: float | None = None
    render_seconds: Annotated[float, Field(ge=0)] | None = None
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

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        category: ErrorCategory | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.category = category

    def as_job_error(self) -> JobError:
        return JobError(code=self.code, message=self.message, category=self.category)


class GenerationRejectedError(ProviderError):
    """The provider refused the request for good (invalid input, content policy, quota): nothing was made."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials: a misconfiguration that no retry mends."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, category=ErrorCategory.AUTH)


class ProviderVideoNotFoundError(ProviderError):
    """The provider does not know the video (deleted, or never existed)."""


class ContentUnavailableError(ProviderError):
    """The finished video's content can no longer be downloaded (expired or removed)."""


class ProviderTemporaryError(ProviderError):
    """Rate limits, 5xx and network faults: keep the job and try again later."""


class ProviderRateLimitedError(ProviderTemporaryError):
    """The provider answered 429: every function should hold back until `retry_after` has passed."""


class VideoDownload(Protocol):
    content_type: str
    content_length: int | None

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]: ...


class VideoProvider(Protocol):
    name: ProviderName
    capabilities: ProviderCapabilities

    def submit(self, request: GenerationRequest) -> ProviderVideo: ...

    def retrieve(self, provider_video_id: str) -> ProviderVideo: ...

    def created_since(self, moment: int) -> Iterator[ProviderVideo]:
        """The generations created at or after `moment` (unix seconds), newest first; empty for providers
        that cannot list (capabilities.finds_lost_creates is False)."""
        ...

    def download(self, provider_video_id: str, variant: ContentVariant) -> AbstractContextManager[VideoDownload]:
        """Streams the output, asking the provider for a fresh URL each time (outputs' URLs expire)."""
        ...

    def cancel(self, provider_video_id: str) -> bool:
        """Asks the provider to stop the generation; False when it cannot (no cancel, or already finished)."""
        ...

    def check_access(self, model: str) -> None:
        """One cheap authenticated read that makes and costs nothing: returns when the provider accepts our key
        at this URL; ProviderAuthError when it refuses the key, ProviderVideoNotFoundError when nothing answers
        at the URL, ProviderTemporaryError when it cannot be reached."""
        ...


# The provider of a given name, built on first use; ProviderNotConfigured when the deployment cannot reach it.
ProviderLookup = Callable[[ProviderName], VideoProvider]
