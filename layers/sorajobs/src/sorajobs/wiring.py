"""The one place the backend's collaborators are put together: each logic class receives the clients,
repositories and settings it uses, built from one `Services` (the AWS clients, providers and secrets) over one
`Settings` (every environment variable is read there, once).

A Lambda process builds one `Wiring` from its environment on first use (`process_wiring`). Handlers pass it on
explicitly; HTTP routes receive its parts through Powertools' `Depends` (`sorajobs.api.dependencies`). A local
runtime or a test that loads a handler module replaces the module's `process_wiring` with its own, as
Powertools' `dependency_overrides` replaces a route's dependency; nothing in the layer exists for them.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING

from sorajobs.config import Settings
from sorajobs.services import Services

if TYPE_CHECKING:  # each is imported where it is built, so a function imports only the logic it runs
    from sorajobs.logic.delivery import WebhookDeliverer
    from sorajobs.logic.doctor import Doctor
    from sorajobs.logic.fal_webhooks import FalWebhookReceiver
    from sorajobs.logic.job_writes import JobWrites
    from sorajobs.logic.jobs import JobService
    from sorajobs.logic.lost_creates import LostCreates
    from sorajobs.logic.outbox import WebhookOutbox
    from sorajobs.logic.provider_webhooks import ProviderWebhookReceiver
    from sorajobs.logic.queries import JobQueries
    from sorajobs.logic.refresh import JobRefresher
    from sorajobs.logic.render_times import LearnedRenderTimes
    from sorajobs.logic.schedule import PollSchedule
    from sorajobs.logic.store import VideoStorer
    from sorajobs.logic.submission import JobSubmission
    from sorajobs.logic.sweep import Sweeper
    from sorajobs.logic.uploads import ImageUploads
    from sorajobs.logic.webhook_log import WebhookLog


class Wiring:
    """Each collaborator built on first use, so a function pays only for what it touches."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    @classmethod
    def from_environment(cls) -> Wiring:
        return cls(Services(Settings.from_env()))

    @cached_property
    def render_times(self) -> LearnedRenderTimes:
        """The render times learned from finished jobs, shared by the schedule, the ETAs and the recording."""
        from sorajobs.logic.render_times import LearnedRenderTimes

        return LearnedRenderTimes(self.services.render_time_store, self.services.clock)

    @cached_property
    def job_writes(self) -> JobWrites:
        """The conditional writes of every transition, shared by everything that moves a job."""
        from sorajobs.logic.job_writes import JobWrites

        services = self.services
        return JobWrites(jobs=services.jobs, store_queue=services.store_queue, render_times=self.render_times)

    @cached_property
    def poll_schedule(self) -> PollSchedule:
        """When each submitted job is next looked at, shared by the submission, the lost creates and the refresh."""
        from sorajobs.logic.schedule import PollSchedule

        return PollSchedule.for_settings(self.settings, self.services.random_source, self.render_times)

    @cached_property
    def lost_creates(self) -> LostCreates:
        from sorajobs.logic.lost_creates import LostCreates

        services = self.services
        return LostCreates(
            clock=services.clock,
            jobs=services.jobs,
            rate_budget=services.rate_budget,
            schedule=self.poll_schedule,
            writes=self.job_writes,
        )

    @cached_property
    def submission(self) -> JobSubmission:
        from sorajobs.logic.submission import JobSubmission

        services = self.services
        return JobSubmission(
            settings=self.settings,
            clock=services.clock,
            jobs=services.jobs,
            providers=services.provider,
            rate_budget=services.rate_budget,
            storage=services.storage,
            schedule=self.poll_schedule,
            writes=self.job_writes,
            lost_creates=self.lost_creates,
            new_id=services.new_id,
            resolve_host=services.resolve_host,
        )

    @cached_property
    def refresher(self) -> JobRefresher:
        from sorajobs.logic.refresh import JobRefresher

        services = self.services
        return JobRefresher(
            clock=services.clock,
            providers=services.provider,
            rate_budget=services.rate_budget,
            schedule=self.poll_schedule,
            writes=self.job_writes,
        )

    @cached_property
    def job_service(self) -> JobService:
        from sorajobs.logic.jobs import JobService

        services = self.services
        return JobService(
            settings=self.settings,
            clock=services.clock,
            jobs=services.jobs,
            providers=services.provider,
            writes=self.job_writes,
            refresher=self.refresher,
            submission=self.submission,
        )

    @cached_property
    def queries(self) -> JobQueries:
        from sorajobs.logic.queries import JobQueries

        services = self.services
        return JobQueries(
            clock=services.clock,
            jobs=services.jobs,
            storage=services.storage,
            content_url_ttl_seconds=self.settings.content_url_ttl_seconds,
            render_times=self.render_times,
        )

    @cached_property
    def uploads(self) -> ImageUploads:
        from sorajobs.logic.uploads import ImageUploads

        return ImageUploads(clock=self.services.clock, storage=self.services.storage)

    @cached_property
    def sweeper(self) -> Sweeper:
        from sorajobs.logic.sweep import Sweeper

        services = self.services
        return Sweeper(
            settings=self.settings,
            clock=services.clock,
            jobs=services.jobs,
            writes=self.job_writes,
            submission=self.submission,
            refresher=self.refresher,
            rate_budget=services.rate_budget,
            worker_pool=services.worker_pool,
            sleep=services.sleep,
        )

    @cached_property
    def storer(self) -> VideoStorer:
        from sorajobs.logic.store import VideoStorer

        services = self.services
        return VideoStorer(
            clock=services.clock, jobs=services.jobs, providers=services.provider, storage=services.storage
        )

    @cached_property
    def provider_webhooks(self) -> ProviderWebhookReceiver:
        from sorajobs.logic.provider_webhooks import ProviderWebhookReceiver

        services = self.services
        return ProviderWebhookReceiver(
            clock=services.clock,
            jobs=services.jobs,
            refresher=self.refresher,
            writes=self.job_writes,
            webhooks=services.webhooks,
            signing_secrets=services.provider_webhook_secrets,
        )

    @cached_property
    def fal_webhooks(self) -> FalWebhookReceiver:
        from sorajobs.logic.fal_webhooks import FalWebhookReceiver

        services = self.services
        return FalWebhookReceiver(
            clock=services.clock,
            jobs=services.jobs,
            refresher=self.refresher,
            lost_creates=self.lost_creates,
            webhooks=services.webhooks,
            keys=services.fal_webhook_keys,
        )

    @cached_property
    def outbox(self) -> WebhookOutbox:
        from sorajobs.logic.outbox import WebhookOutbox

        services = self.services
        return WebhookOutbox(
            clock=services.clock,
            webhooks=services.webhooks,
            webhook_queue=services.webhook_queue,
            deployment_url=self.settings.webhook_url,
            render_times=self.render_times,
        )

    @cached_property
    def deliverer(self) -> WebhookDeliverer:
        from sorajobs.logic.delivery import WebhookDeliverer

        services = self.services
        return WebhookDeliverer(
            settings=self.settings,
            clock=services.clock,
            webhooks=services.webhooks,
            webhook_queue=services.webhook_queue,
            http=services.webhook_http,
            signing_secrets=services.webhook_signing_secrets,
            resolve_host=services.resolve_host,
        )

    @cached_property
    def doctor(self) -> Doctor:
        from sorajobs.logic.doctor import Doctor

        return Doctor(settings=self.settings, providers=self.services.provider)

    @cached_property
    def webhook_log(self) -> WebhookLog:
        from sorajobs.logic.webhook_log import WebhookLog

        services = self.services
        return WebhookLog(
            clock=services.clock, jobs=services.jobs, webhooks=services.webhooks, webhook_queue=services.webhook_queue
        )


@cache
def process_wiring() -> Wiring:
    """This process's collaborators, built from the environment on first use: one per Lambda instance. Its
    configuration problems are logged as errors and counted (ProviderNotConfigured) at once; the requests that
    need the provider then answer 503 with the same words."""
    wiring = Wiring.from_environment()
    report_configuration_problems(wiring.settings)
    return wiring


def report_configuration_problems(settings: Settings) -> list[str]:
    # Imported here: the process's observability is configured from its environment on first import.
    from aws_lambda_powertools.metrics import MetricUnit

    from sorajobs.observability import logger, record_metric

    problems = settings.configuration_problems()
    for problem in problems:
        logger.error("Configuration problem", extra={"problem": problem})
        record_metric(name="ProviderNotConfigured", unit=MetricUnit.Count, value=1)
    return problems
