"""The read-only function: get, list, content, stats and the OpenAPI document. No provider calls."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import OTHER_OWNER, assert_error, http_event


def _completed_job(world, owner="user-123"):
    job_id = world.submit(owner=owner).body["id"]
    world.advance(70)
    world.sora_status(job_id, owner=owner)
    world.drain_store_queue()
    return job_id


def test_get_returns_the_stored_job_without_calling_the_provider(world):
    job_id = world.submit().body["id"]
    calls_before = len(world.emulator.request_log)
    world.advance(600)

    response = world.get_job(job_id)

    assert response.status == 200
    assert response.body["id"] == job_id and response.body["status"] == "queued"
    assert len(world.emulator.request_log) == calls_before


def test_get_of_another_owners_job_is_a_404_like_an_unknown_one(world):
    job_id = world.submit().body["id"]

    assert_error(world.get_job(job_id, owner=OTHER_OWNER), 404, "not_found")
    assert_error(world.call("read_api", http_event("read_api_get")), 404, "not_found")


def test_list_returns_the_callers_jobs_newest_first_in_pages(world):
    ids = []
    for n in range(5):
        ids.append(world.submit(prompt=f"clip {n}").body["id"])
        world.advance(1)
    world.submit(owner=OTHER_OWNER)

    first = world.call("read_api", http_event("read_api_list", query={"limit": "3"}))
    second = world.call(
        "read_api", http_event("read_api_list", query={"limit": "3", "cursor": first.body["next_cursor"]})
    )

    assert [job["id"] for job in first.body["data"]] == ids[::-1][:3]
    assert [job["id"] for job in second.body["data"]] == ids[::-1][3:]
    assert second.body["next_cursor"] is None


def test_list_filters_by_status(world):
    completed = _completed_job(world)
    world.submit()

    response = world.call("read_api", http_event("read_api_list"))  # the sample asks for completed jobs

    assert [job["id"] for job in response.body["data"]] == [completed]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"limit": "0"}, 422, "validation_error"),
        ({"limit": "101"}, 422, "validation_error"),
        ({"limit": "ten"}, 422, "validation_error"),
        ({"status": "exploded"}, 422, "validation_error"),
        ({"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
    ],
    ids=["limit-zero", "limit-too-big", "limit-not-a-number", "bad-status", "bad-cursor"],
)
def test_bad_list_queries_are_refused(world, query, status, code):
    assert_error(world.call("read_api", http_event("read_api_list", query=query)), status, code)


def test_a_cursor_from_another_owners_listing_is_refused(world):
    for _ in range(2):
        world.submit(owner=OTHER_OWNER)
    theirs = world.call("read_api", http_event("read_api_list", owner=OTHER_OWNER, query={"limit": "1"}))

    response = world.call("read_api", http_event("read_api_list", query={"cursor": theirs.body["next_cursor"]}))

    assert_error(response, 400, "invalid_cursor")


def test_content_redirects_to_a_short_lived_presigned_url_of_the_video(world):
    job_id = _completed_job(world)

    response = world.call("read_api", http_event("read_api_content", job_id=job_id))

    assert response.status == 302
    url = urlparse(response.headers["location"])
    query = parse_qs(url.query)
    assert url.path.endswith(f"videos/{job_id}/attempt-1/video.mp4")
    assert query["X-Amz-Expires"] == ["300"]
    assert response.headers["cache-control"] == "no-store"


def test_content_without_redirect_answers_the_presigned_url_as_json(world):
    job_id = _completed_job(world)

    response = world.call("read_api", http_event("read_api_content", job_id=job_id, query={"redirect": "false"}))

    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert body["expires_in_seconds"] == 300
    assert urlparse(body["url"]).path.endswith(f"videos/{job_id}/attempt-1/video.mp4")


def test_content_can_return_the_thumbnail(world):
    job_id = _completed_job(world)

    response = world.call("read_api", http_event("read_api_content", job_id=job_id, query={"variant": "thumbnail"}))

    assert response.status == 302
    assert urlparse(response.headers["location"]).path.endswith("thumbnail.webp")


def test_content_of_an_unfinished_job_is_a_409(world):
    job_id = world.submit().body["id"]

    assert_error(world.call("read_api", http_event("read_api_content", job_id=job_id)), 409, "not_ready")


def test_content_with_an_unknown_variant_is_a_422(world):
    job_id = _completed_job(world)
    response = world.call("read_api", http_event("read_api_content", job_id=job_id, query={"variant": "spritesheet"}))

    assert_error(response, 422, "validation_error")


def test_stats_count_the_callers_jobs_by_status(world):
    _completed_job(world)
    world.submit()
    world.submit(owner=OTHER_OWNER)

    response = world.call("read_api", http_event("read_api_stats"))

    assert response.status == 200
    assert response.body["scope"] == "owner"
    assert response.body["counts"]["completed"] == 1 and response.body["counts"]["queued"] == 1
    assert response.body["total"] == 2


def test_stats_cover_every_owner_for_the_admin_group(world):
    _completed_job(world)
    world.submit(owner=OTHER_OWNER)

    response = world.call("read_api", http_event("read_api_stats", groups="[users admins]"))

    assert response.body["scope"] == "all"
    assert response.body["total"] == 2
    assert response.body["counts"]["completed"] == 1 and response.body["counts"]["queued"] == 1


def test_the_openapi_document_is_public_and_describes_every_route(world):
    response = world.call("read_api", http_event("read_api_openapi", owner=None))

    assert response.status == 200
    paths = response.body["paths"]
    assert set(paths) == {
        "/videos",
        "/videos/{id}",
        "/videos/{id}/sora-status",
        "/videos/{id}/reset",
        "/videos/{id}/content",
        "/stats",
        "/videos/{id}/webhooks",
        "/videos/{id}/webhooks/replay",
        "/videos/{id}/cancel",
        "/models",
        "/uploads",
        "/provider-webhooks/openai",
        "/provider-webhooks/fal",
        "/doctor",
        "/videos/{id}/attempts",
    }
    assert set(paths["/videos"]) == {"get", "post"}
    assert "SubmitVideoRequest" in response.body["components"]["schemas"]


def test_an_unknown_route_is_a_404_in_the_error_shape(world):
    event = http_event("read_api_get")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nowhere"

    assert_error(world.call("read_api", event), 404, "route_not_found")
