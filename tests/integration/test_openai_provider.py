"""The OpenAI Videos provider through the real SDK against the emulator: calls and error translation."""

from __future__ import annotations

import hashlib

import pytest

from local.emulator import Fault, Scenario
from sorajobs.providers.base import (
    ContentUnavailableError,
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderTemporaryError,
    ProviderVideoNotFoundError,
)
from sorajobs.providers.openai_videos import build_openai_provider
from tests.conftest import API_KEY

REQUEST = GenerationRequest(prompt="a lighthouse at dusk", model="sora-2", seconds="8", size="1280x720")


@pytest.fixture
def provider(emulator):
    return build_openai_provider(api_key=API_KEY, base_url=emulator.base_url, timeout_seconds=5, max_retries=0)


def test_submit_retrieve_download_and_delete_a_video(provider, emulator, emulator_clock):
    submitted = provider.submit(REQUEST)
    assert submitted.status == "queued" and submitted.id.startswith("video_")

    emulator_clock.advance(70)
    finished = provider.retrieve(submitted.id)
    assert finished.status == "completed" and finished.progress == 100 and finished.expires_at

    with provider.download(submitted.id, "video") as download:
        body = b"".join(download.iter_chunks(65536))
    assert download.content_type == "video/mp4" and download.content_length == len(body)
    assert hashlib.sha256(body).hexdigest() == emulator.video(submitted.id)["content_sha256"]

    provider.delete(submitted.id)
    with pytest.raises(ProviderVideoNotFoundError):
        provider.retrieve(submitted.id)


def test_the_poll_hint_header_is_read(provider):
    video = provider.retrieve(provider.submit(REQUEST).id)

    assert video.poll_after_seconds == 2.0


def test_a_rejected_prompt_is_a_rejection_with_the_providers_code(provider, emulator):
    emulator.script_next(Scenario(reject_code="moderation_blocked"))

    with pytest.raises(GenerationRejectedError) as rejected:
        provider.submit(REQUEST)

    assert rejected.value.code == "moderation_blocked"


def test_a_rate_limit_is_temporary_and_carries_retry_after(provider, emulator):
    emulator.inject(Fault(operation="retrieve", status=429, retry_after=17, code="rate_limit_exceeded"))
    video_id = provider.submit(REQUEST).id

    with pytest.raises(ProviderTemporaryError) as limited:
        provider.retrieve(video_id)

    assert limited.value.code == "rate_limit_exceeded" and limited.value.retry_after == 17


def test_an_unreachable_provider_is_temporary(emulator):
    provider = build_openai_provider(api_key=API_KEY, base_url=emulator.base_url, timeout_seconds=5, max_retries=0)
    emulator.stop()

    with pytest.raises(ProviderTemporaryError) as unreachable:
        provider.submit(REQUEST)

    assert unreachable.value.code == "provider_unreachable"


def test_a_wrong_key_is_an_auth_error_not_a_temporary_fault(emulator):
    provider = build_openai_provider(api_key="sk-wrong", base_url=emulator.base_url, timeout_seconds=5, max_retries=0)

    with pytest.raises(ProviderAuthError) as refused:
        provider.submit(REQUEST)

    assert refused.value.code == "provider_auth_failed"
    assert refused.value.category == "auth"
    assert not isinstance(refused.value, ProviderTemporaryError)


def test_content_before_completion_or_after_expiry_is_unavailable(provider, emulator_clock):
    video_id = provider.submit(REQUEST).id

    with pytest.raises(ContentUnavailableError), provider.download(video_id, "video"):
        pass
    emulator_clock.advance(70 + 3601)
    with pytest.raises(ContentUnavailableError) as expired, provider.download(video_id, "video"):
        pass
    assert expired.value.code == "video_expired"
