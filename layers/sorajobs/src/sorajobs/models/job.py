"""The video job as the backend knows it (the domain model, stored in DynamoDB)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sorajobs.catalog import ProviderName

# Each model allows some of these (sorajobs.catalog); the shapes are checked here, the values per model.
VideoSeconds = Annotated[str, Field(pattern=r"^[1-9][0-9]?$")]
VideoSize = Annotated[str, Field(pattern=r"^[1-9][0-9]{2,3}x[1-9][0-9]{2,3}$")]
VideoVariant = Literal["video", "thumbnail"]


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RESET = "reset"


UNFINISHED_STATUSES = frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.IN_PROGRESS})
# How far along a generation is; a provider update may never move a job to a lower rank.
STATUS_RANK = {
    JobStatus.PENDING: 0,
    JobStatus.QUEUED: 1,
    JobStatus.IN_PROGRESS: 2,
    JobStatus.COMPLETED: 3,
    JobStatus.FAILED: 3,
    JobStatus.CANCELLED: 3,
}


class ErrorCategory(StrEnum):
    """What kind of failure a job met, the same words for every provider."""

    INVALID_REQUEST = "invalid_request"
    CONTENT_POLICY = "content_policy"
    QUOTA = "quota"
    PROVIDER_INTERNAL = "provider_internal"
    AUTH = "auth"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class JobError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    # None on jobs stored before categories existed, and for faults no category describes.
    category: ErrorCategory | None = None


class StoredObject(BaseModel):
    """A file copied into the videos bucket and verified."""

    model_config = ConfigDict(frozen=True)

    key: str
    bytes: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    content_type: str


class AttemptRecord(BaseModel):
    """An earlier generation attempt of a job, kept when the job is reset."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    status: JobStatus
    progress: int
    started_at: datetime
    ended_at: datetime
    provider_video_id: str | None = None
    error: JobError | None = None


class Job(BaseModel):
    """One video generation job and everything the lifecycle needs to drive it."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: str
    status: JobStatus
    progress: Annotated[int, Field(ge=0, le=100)] = 0
    prompt: str
    # Jobs stored before providers could be chosen ran on the OpenAI-Videos-compatible gateway.
    provider: ProviderName = "openai"
    model: str
    seconds: VideoSeconds
    size: VideoSize
    # The image an image-to-video generation starts from: an https URL, or an upload in our bucket (its key).
    image_url: str | None = None
    image_key: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    attempt: Annotated[int, Field(ge=1)] = 1
    history: tuple[AttemptRecord, ...] = ()
    provider_video_id: str | None = None
    # When the provider accepted this attempt's generation (its render time is counted from then).
    provider_accepted_at: datetime | None = None
    # When the provider began rendering it, where the provider says (fal's runner logs).
    provider_started_at: datetime | None = None
    # The provider's own last status; "completed" while the video is being copied to S3.
    provider_status: str | None = None
    created_at: datetime
    updated_at: datetime
    attempt_started_at: datetime
    completed_at: datetime | None = None
    error: JobError | None = None
    video: StoredObject | None = None
    thumbnail: StoredObject | None = None
    # When the job last moved forward (status or progress); drives stuck detection.
    last_progress_at: datetime
    # When the provider was last asked about the job.
    last_refreshed_at: datetime | None = None
    # The first progress report of this attempt (when, and how far), to estimate the rate of progress.
    rendering_since: datetime | None = None
    progress_baseline: Annotated[int, Field(ge=0, le=100)] = 0
    # How many requests are ahead in the provider's queue, as it last said (providers that say: fal).
    queue_position: Annotated[int, Field(ge=0)] | None = None
    # Set while the job needs the sweep; absent once it is finished (the sparse `due` index).
    next_poll_at: datetime | None = None
    # A sweep that claimed the job owns it until then.
    lease_until: datetime | None = None
    store_requested_at: datetime | None = None
    # Set just before a paid create is sent; while set, a create for this attempt may exist at the provider
    # even though its answer never arrived, so the next try looks for it before creating again.
    create_started_at: datetime | None = None
    # Holds one of the provider's in-flight slots (admission); counted in the global `in_flight` counter.
    admitted: bool = False
    # What the attempts of this job are estimated to cost, in US cents (model, seconds and size).
    estimated_cost_cents: Annotated[int, Field(ge=0)] = 0
    # The client's own webhook destination, checked at submit (https, public address).
    webhook_url: str | None = None
    # Webhook events, stamped by every job write (the table's stream carries them out): how many the
    # job has produced, the latest one's type, and when and at what progress it was produced.
    event_sequence: Annotated[int, Field(ge=0)] = 0
    last_event_type: str | None = None
    last_event_at: datetime | None = None
    last_event_progress: Annotated[int, Field(ge=0, le=100)] = 0
    # Optimistic lock: every state write requires the version it read.
    version: Annotated[int, Field(ge=0)] = 0

    @property
    def is_unfinished(self) -> bool:
        return self.status in UNFINISHED_STATUSES

    @property
    def ready(self) -> bool:
        return self.status is JobStatus.COMPLETED and self.video is not None

    @property
    def awaiting_storage(self) -> bool:
        return self.status is JobStatus.IN_PROGRESS and self.provider_status == "completed"
