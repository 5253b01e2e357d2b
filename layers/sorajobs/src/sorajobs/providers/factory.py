"""Builds the configured provider. The `openai` import happens here, only when a provider is needed."""

from __future__ import annotations

from sorajobs.config import Settings
from sorajobs.providers.base import VideoProvider


def build_provider(settings: Settings, api_key: str) -> VideoProvider:
    from sorajobs.providers.openai_videos import build_openai_provider

    return build_openai_provider(
        api_key=api_key,
        base_url=settings.openai_base_url or None,
        timeout_seconds=settings.provider_timeout_seconds,
        max_retries=settings.provider_max_retries,
    )
