"""Reference images: POST /uploads signs a POST of one image into the caller's folder; a submit names the upload,
and each create hands the provider a freshly signed URL of it."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import OTHER_OWNER, assert_error, http_event

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def start_upload(world, owner=None, **body):
    payload = {"content_type": "image/png", "bytes": len(PNG), **body}
    kwargs = {} if owner is None else {"owner": owner}
    return world.call("submit", http_event("upload", body=payload, **kwargs))


def upload(answer, content: bytes = PNG, content_type: str = "image/png") -> requests.Response:
    # moto answers presigned POSTs made with `requests` in-process, as S3 would over HTTP.
    return requests.post(
        answer["url"], data=answer["fields"], files={"file": ("image.png", content, content_type)}, timeout=10
    )


def test_an_uploaded_image_goes_to_the_provider_as_a_signed_url_of_it(fal_world):
    world = fal_world
    answer = start_upload(world)
    assert answer.status == 201 and answer.body["upload_id"].startswith("upl_")
    assert upload(answer.body).status_code in (200, 204)

    job = world.submit(
        provider="fal", model="fal-ai/kling-video/v2.1/master/image-to-video", image_upload_id=answer.body["upload_id"]
    ).body

    request_id = world.stored_job(job["id"]).provider_video_id.rsplit("/", 1)[1]
    sent = world.fal.request(request_id)["arguments"]["image_url"]
    parts = urlsplit(sent)
    assert parts.scheme == "https" and answer.body["upload_id"] in parts.path and "Signature" in parts.query
    assert requests.get(sent, timeout=10).content == PNG


def test_a_submit_naming_an_upload_that_never_arrived_is_a_400_and_writes_nothing(fal_world):
    world = fal_world
    answer = start_upload(world)

    response = world.submit(
        provider="fal", model="fal-ai/kling-video/v2.1/master/image-to-video", image_upload_id=answer.body["upload_id"]
    )

    assert_error(response, 400, "image_upload_not_found")
    assert world.fal.submitted_count == 0


def test_another_owner_cannot_use_my_upload(fal_world):
    world = fal_world
    answer = start_upload(world)
    upload(answer.body)

    response = world.submit(
        owner=OTHER_OWNER,
        provider="fal",
        model="fal-ai/kling-video/v2.1/master/image-to-video",
        image_upload_id=answer.body["upload_id"],
    )

    assert_error(response, 400, "image_upload_not_found")


def test_the_signed_upload_admits_one_key_one_type_and_at_most_the_declared_size(world):
    answer = start_upload(world, bytes=100).body

    # S3 enforces the policy it was signed with (moto does not check the size, so the policy is what is tested).
    policy = json.loads(base64.b64decode(answer["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 100] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": answer["fields"]["key"]} in conditions
    assert answer["fields"]["key"].endswith("/" + answer["upload_id"])


@pytest.mark.parametrize(
    "body", [{"content_type": "image/gif"}, {"bytes": 0}, {"bytes": 10 * 1024 * 1024 + 1}, {"surprise": 1}]
)
def test_a_bad_upload_request_is_a_422(world, body):
    assert_error(start_upload(world, **body), 422, "validation_error")


def test_image_url_and_image_upload_id_together_are_refused(world):
    response = world.submit(image_url="https://example.com/a.png", image_upload_id="upl_" + "0" * 32)

    assert_error(response, 422, "validation_error")
