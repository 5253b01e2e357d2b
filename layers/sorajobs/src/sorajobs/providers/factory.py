"""Builds the configured provider. The `openai` import happens here, only when a provider is needed."""

from __future__ import annotations

import os

from sorajobs.config import Settings
from sorajobs.providers.base import VideoProvider

SECRET_CACHE_SECONDS = 300


def provider_api_key(settings: Settings) -> str:
    """OPENAI_API_KEY when set (local runs), else the Secrets Manager secret (cached by Powertools)."""
    if key := os.environ.get("OPENAI_API_KEY"):
        return key
    if not settings.openai_api_key_secret_name:
        raise RuntimeError("Set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_NAME")
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings.openai_api_key_secret_name, max_age=SECRET_CACHE_SECONDS)
    return str(secret).strip()


def build_provider(settings: Settings) -> VideoProvider:
    from sorajobs.providers.openai_videos import build_openai_provider

    return build_openai_provider(
        api_key=provider_api_key(settings),
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        timeout_seconds=settings.provider_timeout_seconds,
        max_retries=settings.provider_max_retries,
    )
