"""The /v1/videos protocol, exercised through the real openai SDK (and raw HTTP where the SDK cannot)."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai import OpenAI

from local.emulator import EmulatorServer, ManualClock, Scenario
from local.emulator.media import fixture_bytes

VIDEO_ID = re.compile(r"^video_[0-9a-f]{24}$")
REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def test_create_via_sdk_multipart_returns_a_queued_video(client: OpenAI, server: EmulatorServer) -> None:
    video = client.videos.create(prompt="a red fox in the snow", model="sora-2-pro", seconds="8", size="1280x720")

    assert VIDEO_ID.match(video.id)
    assert video.object == "video"
    assert (video.status, video.progress) == ("queued", 0)
    assert (video.model, video.seconds, video.size) == ("sora-2-pro", "8", "1280x720")
    assert video.prompt == "a red fox in the snow"
    assert video.created_at == 1_800_000_000
    assert video.completed_at is None and video.expires_at is None and video.error is None
    assert server.created_count == 1
    assert server.request_log == [("POST", "/v1/videos", 200)]


def test_create_keeps_a_unicode_prompt_intact(client: OpenAI) -> None:
    prompt = "un café à Zürich, 東京の夜 🌃"

    assert client.videos.create(prompt=prompt).prompt == prompt


def test_create_applies_the_documented_defaults(client: OpenAI) -> None:
    video = client.videos.create(prompt="defaults")

    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")


def test_create_accepts_dated_model_snapshots(client: OpenAI) -> None:
    video = client.videos.create(prompt="snapshot", model="sora-2-2025-10-06")

    assert video.model == "sora-2-2025-10-06"


def test_create_via_raw_json_with_an_image_url_reference(http: httpx.Client, server: EmulatorServer) -> None:
    response = http.post(
        "/v1/videos",
        json={"prompt": "json body", "seconds": "12", "input_reference": {"image_url": "https://x.test/a.png"}},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["seconds"] == "12" and body["status"] == "queued"
    assert server.video(body["id"])["input_reference"] == {"type": "image_url", "image_url": "https://x.test/a.png"}


def test_create_with_an_uploaded_reference_image(client: OpenAI, server: EmulatorServer) -> None:
    video = client.videos.create(prompt="from an image", input_reference=("ref.png", PNG_1PX, "image/png"))

    reference = server.video(video.id)["input_reference"]
    assert reference["type"] == "file"
    assert (reference["filename"], reference["content_type"], reference["bytes"]) == (
        "ref.png",
        "image/png",
        len(PNG_1PX),
    )


def test_create_rejects_a_reference_that_is_not_an_image(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="bad ref", input_reference=("notes.txt", b"hello", "text/plain"))

    assert caught.value.param == "input_reference"


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"prompt": "p", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "p", "size": "1920x1080"}, "size", "invalid_value"),
        ({"prompt": "p", "model": "gpt-4o"}, "model", "invalid_value"),
        ({"prompt": ""}, "prompt", "string_below_min_length"),
        ({"prompt": "x" * 32_001}, "prompt", "string_above_max_length"),
    ],
)
def test_create_validates_like_the_real_api(
    client: OpenAI, server: EmulatorServer, kwargs: dict[str, str], param: str, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(**kwargs)  # type: ignore[arg-type]

    error = caught.value
    assert (error.status_code, error.param, error.code, error.type) == (400, param, code, "invalid_request_error")
    assert server.created_count == 0


def test_create_accepts_a_prompt_of_exactly_32000_chars(client: OpenAI) -> None:
    assert client.videos.create(prompt="x" * 32_000).status == "queued"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": "p", "seconds": 8}, "seconds", "invalid_type"),
        ({"prompt": "p", "colour": "red"}, "colour", "unknown_parameter"),
        ({"prompt": "p", "input_reference": {"image_url": "u", "file_id": "f"}}, "input_reference", "invalid_value"),
    ],
)
def test_raw_json_create_validation(http: httpx.Client, body: dict[str, object], param: str, code: str) -> None:
    response = http.post("/v1/videos", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["code"] == code


def test_unparseable_json_is_a_400(http: httpx.Client) -> None:
    response = http.post("/v1/videos", content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_api_key_is_an_authentication_error(server: EmulatorServer) -> None:
    with (
        OpenAI(base_url=server.base_url, api_key="sk-wrong-key-123", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        wrong.videos.create(prompt="p")

    assert (caught.value.status_code, caught.value.code) == (401, "invalid_api_key")
    assert caught.value.type == "invalid_request_error"
    assert "sk-wrong-key-123" not in caught.value.message
    assert server.created_count == 0


def test_missing_authorization_header_is_401(server: EmulatorServer) -> None:
    response = httpx.get(server.base_url + "/videos")

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_every_response_carries_a_request_id(client: OpenAI, http: httpx.Client) -> None:
    created = client.videos.with_raw_response.create(prompt="p")
    missing = http.get("/v1/videos/video_000000000000000000000000")
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.retrieve("video_000000000000000000000000")

    assert REQUEST_ID.match(created.headers["x-request-id"])
    assert REQUEST_ID.match(missing.headers["x-request-id"])
    assert caught.value.request_id is not None and REQUEST_ID.match(caught.value.request_id)


def test_unknown_video_is_404_video_not_found(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.retrieve("video_doesnotexist")

    assert caught.value.code == "video_not_found"


def test_unknown_route_is_404_invalid_url(http: httpx.Client) -> None:
    response = http.post("/v1/videos/video_1/content")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/videos/video_1/content)"


def test_content_is_404_until_the_video_completes(client: OpenAI, finish: Callable[[], None]) -> None:
    video = client.videos.create(prompt="p")

    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_not_ready"
    assert "not ready" in caught.value.message

    finish()
    content = client.videos.download_content(video.id, variant="video")
    assert content.content == fixture_bytes("video")
    assert content.response.headers["content-type"] == "video/mp4"
    assert int(content.response.headers["content-length"]) == len(fixture_bytes("video"))


def test_streaming_download_with_iter_bytes(client: OpenAI, finish: Callable[[], None]) -> None:
    video = client.videos.create(prompt="p")
    finish()

    with client.videos.with_streaming_response.download_content(video.id, variant="video") as response:
        assert response.headers["content-type"] == "video/mp4"
        body = b"".join(response.iter_bytes(chunk_size=4096))

    assert body == fixture_bytes("video")


def test_thumbnail_is_webp_and_spritesheet_is_jpeg(client: OpenAI, finish: Callable[[], None]) -> None:
    video = client.videos.create(prompt="p")
    finish()

    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    spritesheet = client.videos.download_content(video.id, variant="spritesheet")

    assert thumbnail.response.headers["content-type"] == "image/webp"
    assert thumbnail.content[:4] == b"RIFF" and thumbnail.content[8:12] == b"WEBP"
    assert spritesheet.response.headers["content-type"] == "image/jpeg"
    assert spritesheet.content[:3] == b"\xff\xd8\xff"


def test_unknown_variant_is_a_400(http: httpx.Client, client: OpenAI, finish: Callable[[], None]) -> None:
    video = client.videos.create(prompt="p")
    finish()

    response = http.get(f"/v1/videos/{video.id}/content", params={"variant": "gif"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "variant"


def test_content_expires_an_hour_after_completion(
    client: OpenAI, clock: ManualClock, finish: Callable[[], None]
) -> None:
    video = client.videos.create(prompt="p")
    finish()
    completed = client.videos.retrieve(video.id)
    assert completed.expires_at == completed.completed_at + 3600  # type: ignore[operator]

    clock.set(completed.expires_at - 1)  # type: ignore[operator]
    assert client.videos.download_content(video.id).content == fixture_bytes("video")

    clock.advance(1)
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_expired"
    assert "expired" in caught.value.message


def test_failed_video_has_no_content(client: OpenAI, server: EmulatorServer, finish: Callable[[], None]) -> None:
    server.script_next(Scenario(outcome="failed"))
    video = client.videos.create(prompt="p")
    finish()

    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.download_content(video.id)

    assert caught.value.code == "video_failed"


def test_list_paginates_with_cursor_and_order(client: OpenAI) -> None:
    ids = [client.videos.create(prompt=f"video {n}").id for n in range(5)]

    first = client.videos.list(limit=2, order="asc")
    assert [v.id for v in first.data] == ids[:2]
    assert first.has_more is True and first.last_id == ids[1]

    last = client.videos.list(limit=2, order="asc", after=ids[3])
    assert [v.id for v in last.data] == ids[4:]
    assert last.has_more is False

    assert [v.id for v in client.videos.list(limit=2, order="asc")] == ids  # SDK auto-pagination
    assert [v.id for v in client.videos.list()] == ids[::-1]  # newest first by default


def test_list_envelope_when_empty(http: httpx.Client) -> None:
    response = http.get("/v1/videos")

    assert response.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(("query", "param"), [({"limit": "0"}, "limit"), ({"order": "up"}, "order")])
def test_list_validates_its_query(http: httpx.Client, query: dict[str, str], param: str) -> None:
    response = http.get("/v1/videos", params=query)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_delete_only_completed_or_failed_videos(
    client: OpenAI, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    video = client.videos.create(prompt="p")
    with pytest.raises(openai.BadRequestError):
        client.videos.delete(video.id)

    finish()
    deleted = client.videos.delete(video.id)

    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)
    assert list(client.videos.list()) == []
    assert server.video(video.id)["deleted"] is True


def test_failed_videos_can_be_deleted(client: OpenAI, server: EmulatorServer, finish: Callable[[], None]) -> None:
    server.script_next(Scenario(outcome="failed"))
    video = client.videos.create(prompt="p")
    finish()

    assert client.videos.delete(video.id).deleted is True


def test_remix_creates_a_new_video_from_a_completed_one(
    client: OpenAI, server: EmulatorServer, finish: Callable[[], None]
) -> None:
    source = client.videos.create(prompt="original", model="sora-2-pro", size="1792x1024", seconds="8")
    finish()

    remix = client.videos.remix(source.id, prompt="same, but at night")

    assert remix.id != source.id
    assert remix.remixed_from_video_id == source.id
    assert (remix.status, remix.prompt) == ("queued", "same, but at night")
    assert (remix.model, remix.size, remix.seconds) == ("sora-2-pro", "1792x1024", "8")
    assert (server.created_count, server.remix_count) == (1, 1)


def test_remix_needs_a_completed_source(client: OpenAI) -> None:
    source = client.videos.create(prompt="original")

    with pytest.raises(openai.BadRequestError):
        client.videos.remix(source.id, prompt="too early")
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_missing", prompt="nothing to remix")


def test_concurrent_creates_are_all_counted(client: OpenAI, server: EmulatorServer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda n: client.videos.create(prompt=f"parallel {n}").id, range(24)))

    assert len(set(ids)) == 24
    assert server.created_count == 24
