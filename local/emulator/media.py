"""The OpenAI emulator serves the shared fixtures of `local.emulation.media` (video, thumbnail, spritesheet)."""

from local.emulation.media import (
    CHUNK_SIZE,
    MEDIA_DIR,
    VARIANTS,
    Variant,
    content_length,
    fixture_bytes,
    iter_content,
    sha256_of_content,
)

__all__ = [
    "CHUNK_SIZE",
    "MEDIA_DIR",
    "VARIANTS",
    "Variant",
    "content_length",
    "fixture_bytes",
    "iter_content",
    "sha256_of_content",
]
