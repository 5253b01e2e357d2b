"""The committed media fixtures and large synthetic videos."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import pytest
from openai import OpenAI

from local.emulator import EmulatorServer, Scenario
from local.emulator.media import MEDIA_DIR, content_length, fixture_bytes, iter_content, sha256_of_content

MIB = 1024 * 1024


def top_level_boxes(data: bytes) -> list[tuple[bytes, int]]:
    """(type, size) of each top-level MP4 box; raises if the boxes do not tile the file exactly."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        assert size >= 8, f"bad box size at {offset}"
        boxes.append((kind, size))
        offset += size
    assert offset == len(data)
    return boxes


def test_fixtures_are_small_real_media() -> None:
    video = fixture_bytes("video")

    assert len(video) < 200 * 1024
    kinds = [kind for kind, _ in top_level_boxes(video)]
    assert kinds[0] == b"ftyp"
    assert kinds.index(b"moov") < kinds.index(b"mdat")  # faststart
    assert b"avc1" in video  # h264 track
    assert sorted(p.name for p in MEDIA_DIR.iterdir()) == ["sample.mp4", "spritesheet.jpg", "thumbnail.webp"]


def test_synthetic_video_is_a_well_formed_mp4_of_exactly_n_bytes() -> None:
    size = 3 * MIB + 12_345
    body = b"".join(iter_content("video", size, "video_seed"))

    assert len(body) == size == content_length("video", size)
    assert body.startswith(fixture_bytes("video"))
    assert top_level_boxes(body)[-1] == (b"free", size - len(fixture_bytes("video")))
    assert hashlib.sha256(body).hexdigest() == sha256_of_content("video", size, "video_seed")


def test_synthetic_bytes_do_not_depend_on_chunk_size() -> None:
    size = 2 * MIB + 3

    small = b"".join(iter_content("video", size, "s", chunk_size=64 * 1024))
    large = b"".join(iter_content("video", size, "s", chunk_size=MIB))

    assert small == large


@pytest.mark.parametrize("size", [0, 5, len(fixture_bytes("video")) + 3, len(fixture_bytes("video")) + 8])
def test_edge_sizes_are_exact(size: int) -> None:
    assert len(b"".join(iter_content("video", size, "s"))) == size


def test_large_synthetic_video_streams_and_matches_its_sha256(
    client: OpenAI, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    server.script_next(Scenario(video_bytes=50 * MIB))
    video = client.videos.create(prompt="big")
    finish()

    digest, received = hashlib.sha256(), 0
    with client.videos.with_streaming_response.download_content(video.id, variant="video") as response:
        assert response.headers["content-length"] == str(50 * MIB)
        for chunk in response.iter_bytes(chunk_size=MIB):
            digest.update(chunk)
            received += len(chunk)

    internal = server.video(video.id)
    assert received == internal["content_bytes"] == 50 * MIB
    assert digest.hexdigest() == internal["content_sha256"]
    assert internal["downloads"] == {"video": 1}


def test_fixture_video_sha256_is_reported(client: OpenAI, server: EmulatorServer) -> None:
    video = client.videos.create(prompt="small")

    internal = server.video(video.id)

    assert internal["content_sha256"] == hashlib.sha256(fixture_bytes("video")).hexdigest()
    assert internal["content_bytes"] == len(fixture_bytes("video"))
