"""The body limit leaves room for every valid request, however a client's JSON encoder writes it: a limit in bytes
must not refuse what the documented limits in characters allow."""

from __future__ import annotations

import json

from sorajobs.config import Settings
from sorajobs.models.api import (
    MAX_IMAGE_URL_CHARS,
    MAX_METADATA_KEYS,
    MAX_PROMPT_CHARS,
    MAX_WEBHOOK_URL_CHARS,
    SubmitVideoRequest,
)

ASTRAL = "\U0001f30a"  # 4 bytes in UTF-8; 12 as the \\ud83c\\udf0a pair that json.dumps writes by default


def largest_valid_submit() -> SubmitVideoRequest:
    """Every field at its limit, in the characters that take the most bytes."""
    return SubmitVideoRequest(
        prompt=ASTRAL * MAX_PROMPT_CHARS,
        provider="openai",
        model=ASTRAL * 128,
        image_url="https://" + ASTRAL * (MAX_IMAGE_URL_CHARS - len("https://")),
        metadata={f"{index:02d}".ljust(64, "k"): ASTRAL * 512 for index in range(MAX_METADATA_KEYS)},
        webhook_url="https://" + ASTRAL * (MAX_WEBHOOK_URL_CHARS - len("https://")),
    )


def test_the_largest_valid_submit_fits_the_body_limit_as_any_encoder_writes_it():
    request = largest_valid_submit().model_dump(mode="json", exclude_none=True)
    limit = Settings.model_fields["max_request_body_bytes"].default

    for body in (json.dumps(request), json.dumps(request, ensure_ascii=False), json.dumps(request, indent=4)):
        assert len(body.encode()) < limit
    assert len(json.dumps(request).encode()) > 8 * 64 * 1024  # eight times the 64 KiB the limit once was
