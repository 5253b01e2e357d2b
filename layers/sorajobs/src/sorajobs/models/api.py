"""Shapes of the HTTP API: request bodies, responses and the one error envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from sorajobs.catalog import ImageInput, ProviderName
from sorajobs.models.job import ErrorCategory, Job, JobStatus, VideoSeconds, VideoSize
from sorajobs.models.render_times import Eta
from sorajobs.timeutil import to_iso_z

UtcTimestamp = Annotated[datetime, PlainSerializer(to_iso_z, return_type=str, when_used="json")]
MetadataKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
MetadataValue = Annotated[str, Field(max_length=512)]

MAX_PROMPT_CHARS = 32000
MAX_METADATA_KEYS = 16
MAX_WEBHOOK_URL_CHARS = 2048
MAX_IMAGE_URL_CHARS = 2048


class SubmitVideoRequest(BaseModel):
    """Body of `POST /videos`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"prompt": "A paper boat drifting down a rainy street", "seconds": "4"},
                {
                    "prompt": "A lighthouse at dawn, waves breaking",
                    "provider": "fal",
                    "metadata": {"campaign": "autumn"},
                    "webhook_url": "https://hooks.example.com/sora",
                },
            ]
        },
    )

    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to generate.")]
    provider: Annotated[
        ProviderName | None,
        Field(default=None, description="openai, fal or runway; empty: the provider of `model`, else the default."),
    ] = None
    model: Annotated[
        str | None,
        Field(default=None, min_length=1, max_length=128, description="A model of GET /models; empty: the default."),
    ] = None
    seconds: Annotated[
        VideoSeconds | None,
        Field(default=None, description="Clip length in seconds, one the model takes; empty: the model's first."),
    ] = None
    size: Annotated[
        VideoSize | None, Field(default=None, description="WIDTHxHEIGHT, one the model takes; empty: its first.")
    ] = None
    image_url: Annotated[
        str | None,
        Field(
            default=None,
            min_length=9,
            max_length=MAX_IMAGE_URL_CHARS,
            pattern=r"^https://",
            description="An https image to animate, for models that take one (image-to-video).",
        ),
    ] = None
    image_upload_id: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^upl_[0-9a-f]{32}$",
            description="An image uploaded with POST /uploads, instead of image_url.",
        ),
    ] = None
    metadata: Annotated[
        dict[MetadataKey, MetadataValue],
        Field(max_length=MAX_METADATA_KEYS, description="Small string map stored with the job."),
    ] = Field(default_factory=dict)
    webhook_url: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=MAX_WEBHOOK_URL_CHARS,
            description="https URL on a public address that receives this job's signed webhook events.",
        ),
    ] = None

    @field_validator("seconds", mode="before")
    @classmethod
    def accept_integer_seconds(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("prompt")
    @classmethod
    def reject_blank_prompt(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value

    @model_validator(mode="after")
    def one_image_at_most(self) -> SubmitVideoRequest:
        if self.image_url is not None and self.image_upload_id is not None:
            raise ValueError("send image_url or image_upload_id, not both")
        return self

    @property
    def has_image(self) -> bool:
        return self.image_url is not None or self.image_upload_id is not None


MAX_IMAGE_BYTES = 10 * 1024 * 1024
ImageContentType = Literal["image/png", "image/jpeg", "image/webp"]


class ImageUploadRequest(BaseModel):
    """Body of `POST /uploads`: the image about to be uploaded."""

    model_config = ConfigDict(extra="forbid")

    content_type: ImageContentType
    bytes: Annotated[int, Field(ge=1, le=MAX_IMAGE_BYTES, description="The file's exact size, at most 10 MiB.")]


class ImageUploadResponse(BaseModel):
    """Where to POST the file (a multipart form: `fields`, then the file as `file`), and its id for a submit."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: UtcTimestamp


class ResetVideoRequest(BaseModel):
    """Body of `POST /videos/{id}/reset`."""

    model_config = ConfigDict(extra="forbid")

    resubmit: Annotated[bool, Field(strict=True, description="Start a new attempt at once.")] = False


JOB_EXAMPLE: dict[str, Any] = {
    "id": "job_5f0c3e2a9b1d4c7e8f6a0b12",
    "status": "in_progress",
    "progress": 42,
    "ready": False,
    "prompt": "A paper boat drifting down a rainy street",
    "provider": "openai",
    "model": "sora-2",
    "seconds": "4",
    "size": "720x1280",
    "image_url": None,
    "provider_video_id": "video_68d7512d07848190b3e45da0ecbebcde",
    "queue_position": None,
    "attempt": 1,
    "created_at": "2026-11-21T12:00:00.000Z",
    "updated_at": "2026-11-21T12:00:31.000Z",
    "completed_at": None,
    "error": None,
    "video": None,
    "estimated_seconds_remaining": 43,
    "eta_seconds": 43,
    "eta_low_seconds": 31,
    "eta_high_seconds": 70,
    "estimated_cost_usd": 0.4,
    "metadata": {"campaign": "autumn"},
    "webhook_url": "https://hooks.example.com/sora",
}


class JobErrorResponse(BaseModel):
    code: str
    message: str
    category: Annotated[ErrorCategory | None, Field(description="The same words for every provider.")] = None


class VideoContentResponse(BaseModel):
    content_url: Annotated[str, Field(description="API path that redirects to a short-lived download URL.")]
    bytes: int
    sha256: str
    content_type: str


class ContentUrlResponse(BaseModel):
    """Where a stored file can be fetched for a while, for callers that cannot follow a redirect with the token
    (a browser's video element sends no Authorization header)."""

    url: Annotated[str, Field(description="A short-lived presigned download URL.")]
    expires_in_seconds: Annotated[int, Field(description="How long the URL stays valid.")]


class ConsoleCognito(BaseModel):
    """What the console's sign-in form needs to ask the stack's Cognito user pool for a token."""

    region: str
    client_id: str


class ConsoleConfigResponse(BaseModel):
    """How the console signs users in: with the stack's Cognito pool, or with a token pasted (or handed over in the
    address's fragment by `make local`)."""

    sign_in: Literal["cognito", "token"]
    cognito: ConsoleCognito | None


class VideoJobResponse(BaseModel):
    """A video job as clients see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    id: str
    status: JobStatus
    progress: Annotated[int, Field(ge=0, le=100)]
    ready: Annotated[bool, Field(description="The video is stored and downloadable.")]
    prompt: str
    provider: ProviderName
    model: str
    seconds: VideoSeconds
    size: VideoSize
    image_url: str | None
    provider_video_id: str | None
    queue_position: Annotated[
        int | None, Field(description="Requests ahead in the provider's queue, when it says (fal).")
    ]
    attempt: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    completed_at: UtcTimestamp | None
    error: JobErrorResponse | None
    video: VideoContentResponse | None
    estimated_seconds_remaining: Annotated[
        int | None, Field(description="The same as `eta_seconds` (kept for clients).")
    ]
    eta_seconds: Annotated[
        int | None,
        Field(
            description="Seconds until the video is ready at the provider, most likely: from the render times of "
            "this deployment's finished jobs of the same provider, model, seconds and size, blended with the rate of "
            "the provider's progress reports, or (fal) with its place in the queue and when its rendering began. "
            "0 while the finished video is stored; null once the job ended."
        ),
    ]
    eta_low_seconds: Annotated[int | None, Field(description="The ETA's range: its 10th percentile.")]
    eta_high_seconds: Annotated[int | None, Field(description="The ETA's range: its 90th percentile.")]
    estimated_cost_usd: Annotated[float, Field(description="Estimated from the price table, all attempts.")]
    metadata: dict[str, str]
    webhook_url: str | None

    @classmethod
    def from_job(cls, job: Job, eta: Eta | None) -> VideoJobResponse:
        video = None
        if job.ready and job.video is not None:
            video = VideoContentResponse(
                content_url=f"/videos/{job.id}/content",
                bytes=job.video.bytes,
                sha256=job.video.sha256,
                content_type=job.video.content_type,
            )
        return cls(
            id=job.id,
            status=job.status,
            progress=job.progress,
            ready=job.ready,
            prompt=job.prompt,
            provider=job.provider,
            model=job.model,
            seconds=job.seconds,
            size=job.size,
            image_url=job.image_url,
            provider_video_id=job.provider_video_id,
            queue_position=job.queue_position,
            attempt=job.attempt,
            created_at=job.created_at,
            updated_at=job.updated_at,
            completed_at=job.completed_at,
            error=JobErrorResponse(code=job.error.code, message=job.error.message, category=job.error.category)
            if job.error
            else None,
            video=video,
            estimated_seconds_remaining=eta.seconds if eta else None,
            eta_seconds=eta.seconds if eta else None,
            eta_low_seconds=eta.low if eta else None,
            eta_high_seconds=eta.high if eta else None,
            estimated_cost_usd=job.estimated_cost_cents / 100,
            metadata=dict(job.metadata),
            webhook_url=job.webhook_url,
        )


class ModelResponse(BaseModel):
    """One model a job may name, with what it takes and costs."""

    provider: ProviderName
    model: str
    description: str
    seconds: list[str]
    sizes: list[str]
    image_input: Annotated[ImageInput, Field(description="Whether `image_url` is refused, optional or required.")]
    usd_per_second: Annotated[dict[str, float], Field(description='By size; "*" is any size.')]
    default: Annotated[bool, Field(description="What a submit naming no provider and no model gets.")]


class ProviderResponse(BaseModel):
    name: ProviderName
    progress: bool
    queue_position: bool
    webhooks: bool
    cancel: bool
    output_lifetime_seconds: int | None


class ModelListResponse(BaseModel):
    data: list[ModelResponse]
    providers: list[ProviderResponse]


class VideoJobListResponse(BaseModel):
    data: list[VideoJobResponse]
    next_cursor: Annotated[str | None, Field(description="Pass as `cursor` to get the next page.")]


class StatsResponse(BaseModel):
    scope: Literal["owner", "all"]
    counts: dict[JobStatus, int]
    total: int
    estimated_cost_usd: Annotated[float, Field(description="Sum of the jobs' estimated costs (every attempt).")]


class DoctorCheck(BaseModel):
    provider: str
    check: Annotated[
        Literal["settings", "key", "access"],
        Field(description="settings: URLs and options; key: a key is configured; access: the provider accepts it"),
    ]
    ok: bool
    message: str


class DoctorResponse(BaseModel):
    ok: Annotated[bool, Field(description="Every check passed.")]
    checks: list[DoctorCheck]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The one error shape of the API: `code` is stable (branch on it), `message` says what to do."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "unsupported_option",
                        "message": "sora-2 on openai takes seconds 4, 8, 12, not 5.",
                        "details": [{"loc": ["body", "seconds"], "allowed": ["4", "8", "12"]}],
                    }
                }
            ]
        }
    )

    error: ErrorBody


class GatewayErrorResponse(BaseModel):
    """What a deployed HTTP API answers itself, where no function runs and its body cannot be changed: a token the
    JWT authorizer refused (401 `Unauthorized`; the `WWW-Authenticate` header says why, e.g. that it expired), a
    body over 10 MB (413), throttling (429), or a function that crashed or timed out (500, 503)."""

    message: Annotated[str, Field(examples=["Unauthorized"])]
