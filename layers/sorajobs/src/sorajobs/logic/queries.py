"""Read-only operations on stored jobs. Nothing here calls the provider or imports `openai`."""

from __future__ import annotations

from dataclasses import dataclass

from sorajobs.catalog import CAPABILITIES
from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.dal.jobs import JobPage, JobRepository
from sorajobs.dal.storage import VideoStorage
from sorajobs.logic.render_times import RenderTimeLookup, estimate
from sorajobs.models.api import (
    ModelListResponse,
    ModelResponse,
    ProviderResponse,
    StatsResponse,
    VideoJobResponse,
)
from sorajobs.models.errors import VariantNotStored, video_unavailable
from sorajobs.models.job import Job, JobStatus, VideoVariant


@dataclass(frozen=True)
class Caller:
    """Who is asking: the JWT subject and whether they belong to the admin group."""

    owner: str
    is_admin: bool = False


class JobQueries:
    def __init__(
        self,
        *,
        clock: Clock,
        jobs: JobRepository,
        storage: VideoStorage,
        content_url_ttl_seconds: int,
        render_times: RenderTimeLookup,
    ) -> None:
        self._clock = clock
        self._render_times = render_times
        self._jobs = jobs
        self._storage = storage
        self._content_url_ttl_seconds = content_url_ttl_seconds

    def view(self, job: Job) -> VideoJobResponse:
        eta = estimate(job, self._clock.now(), self._render_times)
        return VideoJobResponse.from_job(job, eta)

    def get(self, caller: Caller, job_id: str) -> Job:
        return self._jobs.get_for_owner(job_id, caller.owner)

    def list(self, caller: Caller, *, status: JobStatus | None, limit: int, cursor: str | None) -> JobPage:
        return self._jobs.list_for_owner(caller.owner, status=status, limit=limit, cursor=cursor)

    def stats(self, caller: Caller) -> StatsResponse:
        totals = self._jobs.totals(None if caller.is_admin else caller.owner)
        return StatsResponse(
            scope="all" if caller.is_admin else "owner",
            counts=totals.counts,
            total=sum(totals.counts.values()),
            estimated_cost_usd=totals.estimated_cost_cents / 100,
        )

    def content_url(self, caller: Caller, job_id: str, variant: VideoVariant) -> str:
        """A short-lived presigned URL of the stored video or thumbnail."""
        job = self.get(caller, job_id)
        stored = job.video if variant == "video" else job.thumbnail
        if not job.ready:
            raise video_unavailable(job)
        if stored is None:
            raise VariantNotStored(f"This job has no stored {variant}.")
        extension = stored.key.rsplit(".", 1)[-1]
        return self._storage.presigned_download_url(
            stored,
            expires_in=self._content_url_ttl_seconds,
            filename=f"{job.id}.{extension}",
        )


def model_listing(settings: Settings) -> ModelListResponse:
    """What `GET /models` shows: every model jobs may name here, with its provider's capabilities."""
    catalog = settings.catalog
    prices = settings.prices
    default = catalog.models[0]
    models = [
        ModelResponse(
            provider=spec.provider,
            model=spec.model,
            description=spec.description,
            seconds=list(spec.seconds),
            sizes=list(spec.sizes),
            image_input=spec.image_input,
            usd_per_second=prices.get(spec.model, {}),
            default=spec is default,
        )
        for spec in catalog.models
    ]
    providers = [
        ProviderResponse(name=name, **CAPABILITIES[name].model_dump(exclude={"finds_lost_creates", "thumbnails"}))
        for name in catalog.providers
    ]
    return ModelListResponse(data=models, providers=providers)
