"""The media the emulators serve: committed fixtures, and large synthetic videos built on them.

A synthetic video of N bytes is the fixture mp4 followed by one MP4 ``free`` box holding a
repeating pattern, so it stays a playable, well-formed mp4 of exactly N bytes and can be
streamed with constant memory.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEDIA_DIR = Path(__file__).resolve().parent / "media"
CHUNK_SIZE = 1024 * 1024
_PATTERN_SIZE = 64 * 1024
_MAX_32BIT_BOX = 2**32 - 1


@dataclass(frozen=True)
class Variant:
    name: str
    content_type: str
    filename: str


VARIANTS: dict[str, Variant] = {
    "video": Variant("video", "video/mp4", "sample.mp4"),
    "thumbnail": Variant("thumbnail", "image/webp", "thumbnail.webp"),
    "spritesheet": Variant("spritesheet", "image/jpeg", "spritesheet.jpg"),
}


@functools.cache
def fixture_bytes(variant: str) -> bytes:
    """The committed fixture of a variant (a few KB each; read once)."""
    return (MEDIA_DIR / VARIANTS[variant].filename).read_bytes()


def content_length(variant: str, video_bytes: int | None) -> int:
    if variant == "video" and video_bytes is not None:
        return video_bytes
    return len(fixture_bytes(variant))


def iter_content(
    variant: str, video_bytes: int | None, pattern_seed: str, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield the exact bytes served for a variant, in chunks of about ``chunk_size``."""
    fixture = fixture_bytes(variant)
    if variant != "video" or video_bytes is None:
        yield from _split(fixture, chunk_size)
        return
    if video_bytes <= len(fixture):
        yield from _split(fixture[:video_bytes], chunk_size)
        return
    yield from _split(fixture, chunk_size)
    yield from _iter_padding(video_bytes - len(fixture), pattern_seed, chunk_size)


def sha256_of_content(variant: str, video_bytes: int | None, pattern_seed: str) -> str:
    digest = hashlib.sha256()
    for chunk in iter_content(variant, video_bytes, pattern_seed):
        digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1024)
def _video_sha256(video_bytes: int | None, pattern_seed: str) -> str:
    return sha256_of_content("video", video_bytes, pattern_seed)


def video_content(video_bytes: int | None, pattern_seed: str) -> dict[str, Any]:
    """``content_sha256`` and ``content_bytes`` of the video served for one resource. Hashed once per size and seed;
    call it outside locks, since a synthetic video may be gigabytes."""
    return {
        "content_sha256": _video_sha256(video_bytes, pattern_seed),
        "content_bytes": content_length("video", video_bytes),
    }


def _split(data: bytes, chunk_size: int) -> Iterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


def _free_box_header(total: int) -> bytes:
    """Header of an MP4 ``free`` box spanning ``total`` bytes (including the header)."""
    if total <= _MAX_32BIT_BOX:
        return struct.pack(">I4s", total, b"free")
    return struct.pack(">I4sQ", 1, b"free", total)


def _iter_padding(size: int, pattern_seed: str, chunk_size: int) -> Iterator[bytes]:
    # Fewer than 8 bytes cannot hold a box header: pad with zeros instead.
    header = _free_box_header(size) if size >= 8 else b""
    if header:
        yield header
    remaining = size - len(header)
    if not header:
        yield bytes(remaining)
        return
    # Whole repetitions of the pattern per block keep the bytes independent of chunk_size.
    pattern = hashlib.shake_256(pattern_seed.encode()).digest(_PATTERN_SIZE)
    block = pattern * max(1, chunk_size // _PATTERN_SIZE)
    while remaining > 0:
        piece = block if remaining >= len(block) else block[:remaining]
        yield piece
        remaining -= len(piece)
