"""Settings of the backend, read once from the environment."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from sorajobs.catalog import BUILT_IN_MODELS, PROVIDER_NAMES, Catalog, ModelSpec, ProviderName, openai_gateway_model

DEFAULT_MODELS = ("sora-2", "sora-2-pro")
DEFAULT_FAL_QUEUE_URL = "https://queue.fal.run"
DEFAULT_FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
DEFAULT_RUNWAY_BASE_URL = "https://api.dev.runwayml.com"
# The waits before a webhook's attempts 2, 3, ... (attempt 1 goes out at once); each at most 10 h.
DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
LONGEST_RETRY_DELAY_SECONDS = 36000
# OpenAI's own Videos API, shut down on 2026-09-24; the `openai` provider is a compatible gateway.
RETIRED_OPENAI_HOSTS = frozenset({"api.openai.com"})


_ALLOWED_HOST = re.compile(r"\.?[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|[0-9a-f:.]+")


def normalize_allowed_host(entry: str) -> str:
    """One WEBHOOK_URL_ALLOWED_HOSTS entry, lower-case, "*.x" spelt ".x", without a trailing dot."""
    host = entry.strip().lower().removesuffix(".")
    if host.startswith("*."):
        host = host[1:]
    host = host.removeprefix("[").removesuffix("]")
    if not _ALLOWED_HOST.fullmatch(host) or host == "." or ".." in host:
        raise ValueError(f"WEBHOOK_URL_ALLOWED_HOSTS entry {entry!r} is not a host name or .domain suffix")
    return host


class ProviderLimits(BaseModel):
    """One provider's own request budgets and slot count (None: the deployment-wide value, or no limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    create_rpm: Annotated[int, Field(ge=0)] | None = None
    retrieve_rpm: Annotated[int, Field(ge=0)] | None = None
    max_in_flight: Annotated[int, Field(ge=1)] | None = None


class Settings(BaseModel):
    """Everything a function needs to know about its deployment.

    Each field is read from the upper-case environment variable of the same name.
    """

    model_config = ConfigDict(frozen=True)

    jobs_table_name: Annotated[str, Field(min_length=1)]
    videos_bucket_name: str = ""
    store_video_queue_url: str = ""
    # The provider key: OPENAI_API_KEY wins when set (local runs); deployed functions read
    # the Secrets Manager secret named here, cached for `secret_cache_seconds` like every secret.
    openai_api_key: SecretStr = SecretStr("")
    openai_api_key_secret_name: str = ""
    # The provider's base URL (an OpenAI-Videos-compatible gateway); empty: the SDK's default.
    openai_base_url: str = ""
    # The providers jobs may name, the first being the default for a submit that names none.
    enabled_providers: tuple[ProviderName, ...] = ("openai",)
    # fal: the key (FAL_KEY wins, else the named secret), the queue's base URL, the JWKS its webhooks are
    # verified against, the models offered (empty: every built-in fal model), and where fal posts completions
    # (this API's /provider-webhooks/fal; empty: no fal webhooks, the sweep polls).
    fal_key: SecretStr = SecretStr("")
    fal_key_secret_name: str = ""
    fal_queue_url: str = DEFAULT_FAL_QUEUE_URL
    fal_jwks_url: str = DEFAULT_FAL_JWKS_URL
    fal_models: tuple[str, ...] = ()
    fal_webhook_url: str = ""
    # Runway: the key (RUNWAYML_API_SECRET wins, else the named secret), base URL and models offered.
    runwayml_api_secret: SecretStr = SecretStr("")
    runway_api_key_secret_name: str = ""
    runway_base_url: str = DEFAULT_RUNWAY_BASE_URL
    runway_models: tuple[str, ...] = ()
    # Set for local stacks (moto server): S3 then uses path-style addressing, so presigned URLs work.
    aws_endpoint_url: str = ""
    # The region Lambda runs in (AWS_REGION): the console's S3 and Cognito addresses are named after it.
    aws_region: str = "us-east-1"
    # The Cognito app client the console signs users in with (the stack's own pool); empty: the console asks for a
    # token instead (a JwtIssuer of your own, or local dev tokens).
    console_cognito_client_id: str = ""
    allowed_models: tuple[str, ...] = DEFAULT_MODELS
    status_min_refresh_seconds: Annotated[float, Field(ge=0)] = 5.0
    stuck_after_seconds: Annotated[int, Field(gt=0)] = 900
    max_job_age_seconds: Annotated[int, Field(gt=0)] = 3 * 3600
    sweep_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    sweep_lease_seconds: Annotated[int, Field(ge=5)] = 60
    sweep_stop_margin_seconds: Annotated[float, Field(ge=0)] = 10.0
    sweep_batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    # "continuous": the invocation started each minute keeps polling what becomes due every few seconds.
    # Bounds of the adaptive poll interval of one job.
    poll_min_seconds: Annotated[float, Field(gt=0)] = 5.0
    poll_max_seconds: Annotated[float, Field(gt=0)] = 120.0
    # "predicted": from the render times learned from finished jobs; "ladder": the fixed shares used before.
    poll_strategy: Literal["predicted", "ladder"] = "predicted"
    sweep_mode: Literal["continuous", "one-shot"] = "continuous"
    sweep_continuous_seconds: Annotated[float, Field(gt=0)] = 50.0
    sweep_pass_interval_seconds: Annotated[float, Field(gt=0)] = 2.0
    admin_group: str = "admins"
    # An OAuth scope (in the token's `scope` or `scp` claim) that also grants the admin view; empty = none.
    admin_scope: str = "videos/admin"
    content_url_ttl_seconds: Annotated[int, Field(ge=1, le=900)] = 300
    provider_timeout_seconds: Annotated[float, Field(gt=0)] = 8.0
    provider_max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    # Room for the largest valid request as any JSON encoder writes it: 32,000 astral characters of prompt are
    # 384,000 bytes as JSON escapes (12 bytes each) (tests/unit/test_request_size.py); far below Lambda's 6 MB.
    max_request_body_bytes: Annotated[int, Field(gt=0)] = 1024 * 1024
    # Each provider's request budget, shared by every function, in requests per minute (0 = no budget); the
    # same for every provider unless PROVIDER_LIMITS names its own.
    provider_create_rpm: Annotated[int, Field(ge=0)] = 0
    provider_retrieve_rpm: Annotated[int, Field(ge=0)] = 0
    # Per provider: {"fal": {"create_rpm": 60, "retrieve_rpm": 600, "max_in_flight": 10}}; each key optional.
    provider_limits: dict[ProviderName, ProviderLimits] = Field(default_factory=dict)
    # Admission: 0 turns a limit off.
    max_jobs_in_flight: Annotated[int, Field(ge=0)] = 0
    max_active_jobs_per_owner: Annotated[int, Field(ge=0)] = 0
    daily_spend_limit_usd: Annotated[float, Field(ge=0)] = 0.0
    # Webhooks. Outbound events go to `webhook_url` (deployment-wide) and to each job's own URL,
    # signed with the secret(s) in `webhook_signing_secret_name`; inbound provider events are checked
    # against `provider_webhook_secret_name`. Both secrets live in Secrets Manager.
    webhook_url: str = ""
    webhook_delivery_queue_url: str = ""
    webhook_dead_letter_queue_url: str = ""
    webhook_signing_secret_name: str = ""
    provider_webhook_secret_name: str = ""
    # Local runs only: lets a job's webhook_url be http://127.0.0.1 (and skips the address check).
    webhook_allow_local_http: bool = False
    # Hosts a job's webhook_url may name (empty = any public host): "hooks.example.com" is that host exactly,
    # ".example.org" (or "*.example.org") any host under example.org but not example.org itself.
    webhook_url_allowed_hosts: tuple[str, ...] = ()
    # The retry schedule of webhook deliveries: the waits before attempts 2, 3, ... A short one (e.g. "1,1")
    # reaches exhaustion and the dead-letter queue in seconds, for a test of that path.
    webhook_retry_delays_seconds: Annotated[
        tuple[Annotated[int, Field(ge=0, le=LONGEST_RETRY_DELAY_SECONDS)], ...], Field(min_length=1, max_length=20)
    ] = DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS
    # Longest SQS delay of one hop of a delivery's wait (tests set 0 and drive a manual clock).
    webhook_max_queue_delay_seconds: Annotated[int, Field(ge=0, le=900)] = 900
    secret_cache_seconds: Annotated[int, Field(ge=0)] = 300
    # US dollars per generated second, by model and size ("*" = any other size; model "*" = any other model);
    # overrides the catalog's list prices per model.
    price_table: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("allowed_models", "enabled_providers", "fal_models", "runway_models", mode="before")
    @classmethod
    def split_model_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("webhook_retry_delays_seconds", mode="before")
    @classmethod
    def split_delay_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_url_allowed_hosts", mode="before")
    @classmethod
    def split_host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(normalize_allowed_host(str(entry)) for entry in value if str(entry).strip())
        return value

    @field_validator("price_table", "provider_limits", mode="before")
    @classmethod
    def parse_json_table(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("allowed_models")
    @classmethod
    def require_a_model(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("ALLOWED_MODELS must name at least one model")
        return value

    @field_validator("enabled_providers")
    @classmethod
    def require_a_provider(cls, value: tuple[ProviderName, ...]) -> tuple[ProviderName, ...]:
        if not value:
            raise ValueError(f"ENABLED_PROVIDERS must name at least one of {', '.join(PROVIDER_NAMES)}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def require_known_models(self) -> Settings:
        for provider, chosen in (("fal", self.fal_models), ("runway", self.runway_models)):
            known = {spec.model for spec in BUILT_IN_MODELS[provider]}  # type: ignore[index]
            if unknown := [name for name in chosen if name not in known]:
                raise ValueError(
                    f"{provider.upper()}_MODELS names {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                )
        return self

    def provider_problem(self, provider: ProviderName) -> str | None:
        """What keeps the provider's settings from working, in words an operator can act on; None when they
        look right. (Whether the provider accepts the key is asked of the provider: GET /doctor.)"""
        if provider == "openai":
            return openai_base_url_problem(self.openai_base_url)
        url, variable = (
            (self.fal_queue_url, "FAL_QUEUE_URL") if provider == "fal" else (self.runway_base_url, "RUNWAY_BASE_URL")
        )
        return None if _is_http_url(url) else f"{variable} {url!r} is not an http(s) URL."

    def configuration_problems(self) -> list[str]:
        """Every enabled provider's problem, and a deployment WebhookUrl that cannot be delivered to, checked when a
        function starts (each is logged as an error)."""
        problems = [problem for name in self.enabled_providers if (problem := self.provider_problem(name)) is not None]
        if self.webhook_url and urlsplit(self.webhook_url).scheme != "https" and not self.webhook_allow_local_http:
            problems.append(f"WEBHOOK_URL {self.webhook_url!r} must use https: no event is delivered to it.")
        return problems

    @property
    def catalog(self) -> Catalog:
        """The models jobs may name here, the default provider's first."""
        return _catalog(self.enabled_providers, self.allowed_models, self.fal_models, self.runway_models)

    def requests_per_minute(self, provider: ProviderName, kind: Literal["create", "retrieve"]) -> int:
        """The provider's create or retrieve budget (0: none)."""
        own = self.provider_limits.get(provider, ProviderLimits())
        if kind == "create":
            return self.provider_create_rpm if own.create_rpm is None else own.create_rpm
        return self.provider_retrieve_rpm if own.retrieve_rpm is None else own.retrieve_rpm

    def slot_cap(self, provider: ProviderName) -> int | None:
        """How many of the provider's jobs may be at it at once (None: no limit of its own)."""
        return self.provider_limits.get(provider, ProviderLimits()).max_in_flight

    @property
    def prices(self) -> dict[str, dict[str, float]]:
        """The catalog's list prices with PRICE_TABLE's overrides."""
        return {**self.catalog.price_table(), **self.price_table}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {name: environ[name.upper()] for name in cls.model_fields if environ.get(name.upper(), "") != ""}
        return cls.model_validate(values)


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def openai_base_url_problem(url: str) -> str | None:
    """The `openai` provider's base URL must name an OpenAI-Videos-compatible gateway, ending in /v1 (the SDK adds
    /videos to it); OpenAI's own API no longer serves videos."""
    shut_down = "OpenAI shut down its hosted Videos API on 2026-09-24"
    if not url:
        return (
            f"OPENAI_BASE_URL (the OpenAIBaseUrl parameter) is empty, which means api.openai.com: {shut_down}. "
            "Set it to an OpenAI-Videos-compatible gateway's URL ending in /v1, or disable the openai provider."
        )
    if not _is_http_url(url):
        return f"OPENAI_BASE_URL {url!r} is not an http(s) URL."
    if urlsplit(url).hostname in RETIRED_OPENAI_HOSTS:
        return f"OPENAI_BASE_URL {url!r} is OpenAI's own API: {shut_down}. Set it to a compatible gateway's URL."
    if not urlsplit(url).path.rstrip("/").endswith("/v1"):
        return f"OPENAI_BASE_URL {url!r} must end in /v1 (the SDK adds /videos to it), e.g. https://gateway.example/v1."
    return None


@lru_cache(maxsize=8)
def _catalog(
    enabled: tuple[ProviderName, ...], openai_models: tuple[str, ...], fal: tuple[str, ...], runway: tuple[str, ...]
) -> Catalog:
    def models_of(provider: ProviderName) -> tuple[ModelSpec, ...]:
        if provider == "openai":
            return tuple(openai_gateway_model(name) for name in openai_models)
        chosen = fal if provider == "fal" else runway
        return tuple(spec for spec in BUILT_IN_MODELS[provider] if not chosen or spec.model in chosen)

    return Catalog(spec for provider in enabled for spec in models_of(provider))
