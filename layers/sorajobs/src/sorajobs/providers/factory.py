"""Builds a configured provider. Each provider's SDK is imported here, only when that provider is first needed."""

from __future__ import annotations

from sorajobs.catalog import ProviderName
from sorajobs.clock import Clock
from sorajobs.config import Settings
from sorajobs.providers.base import VideoProvider


def build_provider(settings: Settings, name: ProviderName, api_key: str, *, clock: Clock) -> VideoProvider:
    if name == "fal":
        from sorajobs.providers.fal_queue import build_fal_provider

        return build_fal_provider(
            api_key=api_key,
            queue_url=settings.fal_queue_url,
            timeout_seconds=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            clock=clock,
        )
    if name == "runway":
        from sorajobs.providers.runway_tasks import build_runway_provider

        return build_runway_provider(
            api_key=api_key,
            base_url=settings.runway_base_url,
            timeout_seconds=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            clock=clock,
        )
    from sorajobs.providers.openai_videos import build_openai_provider

    return build_openai_provider(
        api_key=api_key,
        base_url=settings.openai_base_url or None,
        timeout_seconds=settings.provider_timeout_seconds,
        max_retries=settings.provider_max_retries,
        clock=clock,
    )
