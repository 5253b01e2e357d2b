"""Settings of the backend, read once from the environment."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_MODELS = ("sora-2", "sora-2-pro")
# US dollars per generated second, by model and size ("*" = any other size; model "*" = any other model).
DEFAULT_PRICE_TABLE: dict[str, dict[str, float]] = {
    "sora-2": {"*": 0.10},
    "sora-2-pro": {"*": 0.30, "1024x1792": 0.50, "1792x1024": 0.50},
}


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
    # Set for local stacks (moto server): S3 then uses path-style addressing, so presigned URLs work.
    aws_endpoint_url: str = ""
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
    sweep_mode: Literal["continuous", "one-shot"] = "continuous"
    sweep_continuous_seconds: Annotated[float, Field(gt=0)] = 50.0
    sweep_pass_interval_seconds: Annotated[float, Field(gt=0)] = 2.0
    admin_group: str = "admins"
    # An OAuth scope (in the token's `scope` or `scp` claim) that also grants the admin view; empty = none.
    admin_scope: str = "videos/admin"
    content_url_ttl_seconds: Annotated[int, Field(ge=1, le=900)] = 300
    provider_timeout_seconds: Annotated[float, Field(gt=0)] = 8.0
    provider_max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    max_request_body_bytes: Annotated[int, Field(gt=0)] = 64 * 1024
    # The provider's request budget, shared by every function, in requests per minute (0 = no budget).
    provider_create_rpm: Annotated[int, Field(ge=0)] = 0
    provider_retrieve_rpm: Annotated[int, Field(ge=0)] = 0
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
    # Longest SQS delay of one hop of a delivery's wait (tests set 0 and drive a manual clock).
    webhook_max_queue_delay_seconds: Annotated[int, Field(ge=0, le=900)] = 900
    secret_cache_seconds: Annotated[int, Field(ge=0)] = 300
    price_table: dict[str, dict[str, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICE_TABLE))

    @field_validator("allowed_models", mode="before")
    @classmethod
    def split_model_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("webhook_url_allowed_hosts", mode="before")
    @classmethod
    def split_host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(normalize_allowed_host(str(entry)) for entry in value if str(entry).strip())
        return value

    @field_validator("price_table", mode="before")
    @classmethod
    def parse_price_table(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("allowed_models")
    @classmethod
    def require_a_model(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("ALLOWED_MODELS must name at least one model")
        return value

    @property
    def default_model(self) -> str:
        return self.allowed_models[0]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {name: environ[name.upper()] for name in cls.model_fields if environ.get(name.upper(), "") != ""}
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
