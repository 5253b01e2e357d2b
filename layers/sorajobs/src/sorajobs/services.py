"""The side effects every function uses (AWS clients, repositories, providers, secrets, the clock), built lazily
from `Settings` with production defaults; tests pass their own clock, providers and transports. `sorajobs.wiring`
puts the logic classes together from them."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sorajobs.catalog import PROVIDER_NAMES, ProviderName
from sorajobs.clock import Clock, SystemClock, new_job_id
from sorajobs.config import Settings
from sorajobs.dal.job_counters import AdmissionLimits
from sorajobs.dal.jobs import JobRepository
from sorajobs.models.errors import ProviderNotConfigured

if TYPE_CHECKING:
    import httpx

    from sorajobs.dal.queue import StoreVideoQueue, WebhookDeliveryQueue
    from sorajobs.dal.rate_budget import RateBudget
    from sorajobs.dal.render_times import RenderTimeRepository
    from sorajobs.dal.storage import VideoStorage
    from sorajobs.dal.webhooks import WebhookRepository
    from sorajobs.providers.base import VideoProvider
    from sorajobs.providers.fal_keys import FalWebhookKeys
    from sorajobs.signing import WebhookSecret

# Outbound webhook requests get this long to answer.
WEBHOOK_TIMEOUT_SECONDS = 15.0


def _sweep_threads(max_workers: int) -> Executor:
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sweep")


class Services:
    """Clients are created on first use, so a function pays only for what it touches; so are the repositories
    and queues that not every function uses, whose modules (and pydantic models) are imported then too."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        new_id: Callable[[], str] = new_job_id,
        providers: Mapping[str, Callable[[], VideoProvider]] | None = None,
        boto3_session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        random_source: random.Random | None = None,
        webhook_http: httpx.Client | None = None,
        resolve_host: Callable[[str], Sequence[str]] | None = None,
        worker_pool: Callable[[int], Executor] = _sweep_threads,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.new_id = new_id
        # Tests build some providers themselves (against the emulators); the rest come from the settings.
        self._provider_factories = dict(providers or {})
        self._providers: dict[str, VideoProvider] = {}
        self._providers_lock = threading.Lock()
        self._boto3_session = boto3_session
        self.sleep = sleep
        # Jitter of the poll schedule; tests pass a seeded one so that runs repeat exactly.
        self.random_source = random_source or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
        self._webhook_http = webhook_http
        self._resolve_host = resolve_host
        # The sweep's workers (a thread pool of the given size); a seeded test runs them in turns instead.
        self.worker_pool = worker_pool

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        session = self._boto3_session or boto3.session.Session()
        config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64)
        if service == "s3":
            # Path-style keeps presigned URLs valid against local endpoints (moto server).
            style = "path" if self.settings.aws_endpoint_url else "auto"
            config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": style}))
        return session.client(service, config=config)

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")

    @cached_property
    def jobs(self) -> JobRepository:
        settings = self.settings
        limits = AdmissionLimits(
            max_in_flight=settings.max_jobs_in_flight or None,
            max_active_per_owner=settings.max_active_jobs_per_owner or None,
            daily_spend_cents=round(settings.daily_spend_limit_usd * 100) or None,
            max_in_flight_by_provider={
                provider: own.max_in_flight
                for provider, own in settings.provider_limits.items()
                if own.max_in_flight is not None
            },
        )
        return JobRepository(self.dynamodb, settings.jobs_table_name, limits)

    @cached_property
    def render_time_store(self) -> RenderTimeRepository:
        from sorajobs.dal.render_times import RenderTimeRepository

        return RenderTimeRepository(self.dynamodb, self.settings.jobs_table_name)

    @cached_property
    def storage(self) -> VideoStorage:
        from sorajobs.dal.storage import VideoStorage

        return VideoStorage(self._client("s3"), self.settings.videos_bucket_name)

    @cached_property
    def store_queue(self) -> StoreVideoQueue:
        from sorajobs.dal.queue import StoreVideoQueue

        return StoreVideoQueue(self.sqs, self.settings.store_video_queue_url)

    @cached_property
    def idempotency_store(self) -> Any:
        """Powertools idempotency records, kept in the jobs table under their own keys (TTL-expired)."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.settings.jobs_table_name, key_attr="pk", boto3_client=self.dynamodb
        )

    @cached_property
    def rate_budget(self) -> RateBudget:
        from sorajobs.dal.rate_budget import CallKind, RateBudget, budget_bucket

        kinds: tuple[CallKind, ...] = ("create", "retrieve")
        limits = {
            budget_bucket(provider, kind): self.settings.requests_per_minute(provider, kind)
            for provider in PROVIDER_NAMES
            for kind in kinds
        }
        return RateBudget(self.dynamodb, self.settings.jobs_table_name, self.clock, limits)

    def provider(self, name: ProviderName) -> VideoProvider:
        """The named provider, built on first use (its SDK imported then); ProviderNotConfigured when the
        deployment does not enable it or has no key for it."""
        if (built := self._providers.get(name)) is not None:
            return built
        with self._providers_lock:  # the sweep's worker threads share one client per provider
            if name not in self._providers:
                if name not in self.settings.enabled_providers:
                    raise ProviderNotConfigured(
                        f"The provider {name!r} is not enabled here; enabled: "
                        + ", ".join(self.settings.enabled_providers)
                    )
                factory = self._provider_factories.get(name) or (lambda: self._configured_provider(name))
                self._providers[name] = factory()
            return self._providers[name]

    # --- webhooks -----------------------------------------------------------------------------

    @cached_property
    def webhooks(self) -> WebhookRepository:
        from sorajobs.dal.webhooks import WebhookRepository

        return WebhookRepository(self.dynamodb, self.settings.jobs_table_name)

    @cached_property
    def webhook_queue(self) -> WebhookDeliveryQueue:
        from sorajobs.dal.queue import WebhookDeliveryQueue

        settings = self.settings
        return WebhookDeliveryQueue(
            self.sqs,
            settings.webhook_delivery_queue_url,
            settings.webhook_dead_letter_queue_url,
            settings.webhook_max_queue_delay_seconds,
        )

    @cached_property
    def webhook_http(self) -> httpx.Client:
        """The client that posts to webhook endpoints; tests pass one with a mock transport."""
        if self._webhook_http is not None:
            return self._webhook_http
        import httpx

        return httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False)

    def resolve_host(self, host: str) -> Sequence[str]:
        """DNS for the webhook URL checks (injected in tests)."""
        if self._resolve_host is not None:
            return self._resolve_host(host)
        from sorajobs.url_guard import resolve_host

        return resolve_host(host)

    @cached_property
    def fal_webhook_keys(self) -> FalWebhookKeys:
        """fal's webhook public keys, from its JWKS URL (the emulator's, locally)."""
        import httpx

        from sorajobs.providers.fal_keys import FalWebhookKeys

        return FalWebhookKeys(httpx.Client(timeout=5.0), self.settings.fal_jwks_url, self.clock)

    @cached_property
    def _secrets_provider(self) -> Any:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto3_client=self._client("secretsmanager"))

    def _configured_provider(self, name: ProviderName) -> VideoProvider:
        from sorajobs.providers.factory import build_provider

        if (problem := self.settings.provider_problem(name)) is not None:
            raise ProviderNotConfigured(problem)

        return build_provider(self.settings, name, self.provider_api_key(name), clock=self.clock)

    def provider_api_key(self, name: ProviderName) -> str:
        """The provider's key from its environment variable when set (local runs), else from its Secrets
        Manager secret, through the one secrets provider every secret comes from."""
        settings = self.settings
        key, secret_name, variables = {
            "openai": (settings.openai_api_key, settings.openai_api_key_secret_name, "OPENAI_API_KEY(_SECRET_NAME)"),
            "fal": (settings.fal_key, settings.fal_key_secret_name, "FAL_KEY or FAL_KEY_SECRET_NAME"),
            "runway": (
                settings.runwayml_api_secret,
                settings.runway_api_key_secret_name,
                "RUNWAYML_API_SECRET or RUNWAY_API_KEY_SECRET_NAME",
            ),
        }[name]
        if value := key.get_secret_value():
            return value
        if not secret_name:
            raise ProviderNotConfigured(f"No key is configured for the provider {name!r}: set {variables}.")
        try:
            value = self.secret(secret_name)
        except Exception as error:  # the secret is missing or unreadable: the provider cannot be used
            raise ProviderNotConfigured(
                f"The key of the provider {name!r} could not be read from the secret {secret_name!r}: {error}"
            ) from error
        if not value:
            raise ProviderNotConfigured(f"The secret {secret_name!r} of the provider {name!r} is empty.")
        return value

    def secret(self, name: str) -> str:
        """A Secrets Manager secret's string, cached for `secret_cache_seconds` by Powertools."""
        if not name:
            raise RuntimeError("No secret is configured for this")
        value = self._secrets_provider.get(name, max_age=self.settings.secret_cache_seconds)
        return str(value).strip()

    def webhook_signing_secrets(self) -> tuple[WebhookSecret, ...]:
        from sorajobs.signing import parse_webhook_secrets

        return parse_webhook_secrets(self.secret(self.settings.webhook_signing_secret_name))

    def provider_webhook_secrets(self) -> tuple[WebhookSecret, ...]:
        from sorajobs.signing import parse_webhook_secrets

        return parse_webhook_secrets(self.secret(self.settings.provider_webhook_secret_name))
