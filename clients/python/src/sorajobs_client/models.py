"""What the API answers, as the served /openapi.json describes it (tests/client/test_contract.py checks that).

Fields the server adds later are ignored, so an older client keeps working against a newer API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["pending", "queued", "in_progress", "completed", "failed", "cancelled", "reset"]
ProviderName = Literal["openai", "fal", "runway"]
ErrorCategory = Literal[
    "invalid_request", "content_policy", "quota", "provider_internal", "auth", "timeout", "cancelled"
]
DeliveryState = Literal["scheduled", "delivered", "exhausted", "endpoint_disabled"]
WebhookDestination = Literal["deployment", "job"]

# Where a job stops moving: a wait ends there.
FINISHED_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "reset"})


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class JobError(ApiModel):
    """Why a job failed: the provider's code (or timeout, not_found, ...) and the same-for-all category."""

    code: str
    message: str
    category: ErrorCategory | None = None


class VideoContent(ApiModel):
    content_url: str
    bytes: int
    sha256: str
    content_type: str


class Job(ApiModel):
    """A video job as the API returns it (VideoJobResponse)."""

    id: str
    status: JobStatus
    progress: int
    ready: bool
    prompt: str
    provider: ProviderName
    model: str
    seconds: str
    size: str
    image_url: str | None
    provider_video_id: str | None
    queue_position: int | None
    attempt: int
    created_at: str
    updated_at: str
    completed_at: str | None
    error: JobError | None
    video: VideoContent | None
    estimated_seconds_remaining: int | None
    # Seconds until the provider finishes, most likely, and the range (10th to 90th percentile); learned from
    # the deployment's finished jobs of the same kind, and the provider's progress. None once the job ended.
    eta_seconds: int | None
    eta_low_seconds: int | None
    eta_high_seconds: int | None
    estimated_cost_usd: float
    metadata: dict[str, str]
    webhook_url: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class JobList(ApiModel):
    """One page of GET /videos (VideoJobListResponse)."""

    data: list[Job]
    next_cursor: str | None


class Model(ApiModel):
    """One model a job may name (ModelResponse)."""

    provider: ProviderName
    model: str
    description: str
    seconds: list[str]
    sizes: list[str]
    image_input: Literal["none", "optional", "required"]
    usd_per_second: dict[str, float]
    default: bool


class Provider(ApiModel):
    """What a provider can do (ProviderResponse)."""

    name: ProviderName
    progress: bool
    queue_position: bool
    webhooks: bool
    cancel: bool
    output_lifetime_seconds: int | None


class ModelList(ApiModel):
    """GET /models (ModelListResponse)."""

    data: list[Model]
    providers: list[Provider]

    def default(self) -> Model | None:
        return next((model for model in self.data if model.default), None)


class DeliveryAttempt(ApiModel):
    attempt: int
    run: int
    at: str
    status_code: int | None
    duration_ms: int
    error: str | None
    next_retry_at: str | None


class WebhookDelivery(ApiModel):
    """One event to one destination in the job's delivery log (WebhookDeliveryResponse)."""

    event_id: str
    type: str
    sequence: int
    destination: WebhookDestination
    url: str
    state: DeliveryState
    attempts: list[DeliveryAttempt]
    next_retry_at: str | None
    replays: int


class WebhookDeliveryList(ApiModel):
    """One page of GET /videos/{id}/webhooks (WebhookDeliveryListResponse)."""

    data: list[WebhookDelivery]
    next_cursor: str | None


class ReplayResult(ApiModel):
    """POST /videos/{id}/webhooks/replay: the event sent again and its restarted deliveries."""

    event_id: str
    deliveries: list[WebhookDelivery]


class Attempt(ApiModel):
    """One generation attempt of a job (AttemptResponse): the abandoned ones, then the current one."""

    attempt: int
    status: JobStatus
    progress: int
    provider_video_id: str | None
    started_at: str
    ended_at: str | None
    error: JobError | None
    current: bool


class AttemptList(ApiModel):
    """GET /videos/{id}/attempts (AttemptListResponse), oldest first."""

    job_id: str
    data: list[Attempt]


class ImageUpload(ApiModel):
    """POST /uploads (ImageUploadResponse): where to POST the image, and the id a submit names."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: str


class Stats(ApiModel):
    """GET /stats (StatsResponse): the caller's jobs per status (every owner's, for the admin group)."""

    scope: Literal["owner", "all"]
    counts: dict[JobStatus, int]
    total: int
    estimated_cost_usd: float


class DoctorCheck(ApiModel):
    """One check of GET /doctor: a provider's settings, whether it has a key, whether the provider accepts it."""

    provider: str
    check: Literal["settings", "key", "access"]
    ok: bool
    message: str


class DoctorReport(ApiModel):
    """GET /doctor (DoctorResponse; the admin group only): `ok` when every check passed."""

    ok: bool
    checks: list[DoctorCheck]


class ErrorBody(ApiModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class ErrorResponse(ApiModel):
    """The API's one error shape: {"error": {"code", "message", "details"}}."""

    error: ErrorBody


class WebhookEvent(ApiModel):
    """The body of a webhook this backend sends: `data` is the job as the HTTP API returns it."""

    id: str
    type: str
    created_at: str
    sequence: int
    data: Job
