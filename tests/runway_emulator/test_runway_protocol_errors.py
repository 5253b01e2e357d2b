"""Runway's answers to requests it refuses: authentication, the version header, validation, routes, credits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from local.runway_emulator import EmulatorServer, ManualClock
from tests.runway_emulator.support import API_KEY, runway_config

DOC_URL = "https://docs.dev.runwayml.com/api"


def rejected(call: Any) -> runwayml.BadRequestError:
    with pytest.raises(runwayml.BadRequestError) as caught:
        call()
    assert caught.value.body["error"] == "Validation of body failed"  # type: ignore[index]
    assert caught.value.body["docUrl"] == DOC_URL  # type: ignore[index]
    return caught.value


def test_a_wrong_key_is_an_authentication_error(server: EmulatorServer) -> None:
    with (
        RunwayML(api_key="key_wrong", base_url=server.base_url, max_retries=0) as sdk,
        pytest.raises(runwayml.AuthenticationError) as caught,
    ):
        sdk.organization.retrieve()

    assert caught.value.status_code == 401
    assert caught.value.body == {"error": "The API key you provided is not valid.", "docUrl": DOC_URL}
    assert server.request_log == [("GET", "/v1/organization", 401)]


def test_a_request_without_a_bearer_key_is_401(http: httpx.Client) -> None:
    response = http.get("/v1/organization", headers={"Authorization": ""})

    assert response.status_code == 401
    assert set(response.json()) == {"error", "docUrl"}


def test_the_version_header_is_required_and_must_be_a_known_version(server: EmulatorServer, http: httpx.Client) -> None:
    missing = http.get("/v1/organization", headers={"X-Runway-Version": ""})
    with (
        RunwayML(api_key=API_KEY, base_url=server.base_url, max_retries=0, runway_version="2020-01-01") as old,
        pytest.raises(runwayml.BadRequestError) as caught,
    ):
        old.organization.retrieve()

    assert missing.status_code == 400
    assert "X-Runway-Version" in missing.json()["error"]
    assert caught.value.body == {
        "error": "The API version that was provided in the X-Runway-Version header is not valid.",
        "docUrl": DOC_URL,
    }


def test_validation_reports_every_issue_with_its_path(client: RunwayML, server: EmulatorServer) -> None:
    error = rejected(
        lambda: client.text_to_video.create(
            model="gen4.5", prompt_text="", ratio="1:1", duration=11, extra_body={"watermark": False}
        )  # type: ignore[arg-type]
    )

    issues = {(issue["code"], tuple(issue["path"])) for issue in error.body["issues"]}  # type: ignore[index]
    assert issues == {
        ("unrecognized_keys", ()),
        ("too_small", ("promptText",)),
        ("invalid_value", ("ratio",)),
        ("too_big", ("duration",)),
    }
    assert server.created_count == 0


def test_missing_required_fields_are_invalid_type_received_undefined(client: RunwayML) -> None:
    error = rejected(lambda: client.with_options().post("/v1/text_to_video", body={"model": "veo3.1"}, cast_to=object))

    assert error.body["issues"] == [  # type: ignore[index]
        {
            "expected": "string",
            "code": "invalid_type",
            "path": ["promptText"],
            "message": "Invalid input: expected string, received undefined",
        },
        {
            "expected": "string",
            "code": "invalid_type",
            "path": ["ratio"],
            "message": "Invalid input: expected string, received undefined",
        },
    ]


def test_an_unknown_model_matches_no_discriminator(client: RunwayML) -> None:
    error = rejected(
        lambda: client.image_to_video.create(
            model="gen4_turbo_x",
            prompt_image="https://example.com/a.png",
            ratio="1280:720",  # type: ignore[arg-type]
        )
    )

    assert error.body["issues"] == [  # type: ignore[index]
        {
            "code": "invalid_union",
            "errors": [],
            "note": "No matching discriminator",
            "discriminator": "model",
            "path": ["model"],
            "message": "Invalid input",
        }
    ]


def test_text_to_video_does_not_offer_image_models(client: RunwayML) -> None:
    rejected(lambda: client.post("/v1/text_to_video", body={"model": "gen4_turbo", "promptText": "p"}, cast_to=object))


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("http://example.com/a.png", "Only HTTPS URLs are allowed."),
        ("https://10.0.0.1/a.png", "URLs must be hosted on a domain."),
        ("data:image/png,notbase64", "Invalid data URI."),
        (
            "data:text/plain;base64,aGk=",
            "Unsupported asset type. Data URIs must include the content type of the value they encode.",
        ),
        ("not a url", "Invalid URL"),
    ],
)
def test_an_unusable_prompt_image_names_the_field_and_the_reason(client: RunwayML, image: str, reason: str) -> None:
    error = rejected(lambda: client.image_to_video.create(model="gen4_turbo", prompt_image=image, ratio="1280:720"))

    assert error.body["issues"] == [{"code": "custom", "path": ["promptImage"], "message": reason}]  # type: ignore[index]


def test_gen4_takes_only_a_first_frame_and_veo_not_only_a_last_one(client: RunwayML) -> None:
    last_only = [{"position": "last", "uri": "https://example.com/a.png"}]

    gen4 = rejected(lambda: client.image_to_video.create(model="gen4_turbo", prompt_image=last_only, ratio="1280:720"))  # type: ignore[list-item]
    veo = rejected(lambda: client.image_to_video.create(model="veo3.1", prompt_image=last_only, ratio="1280:720"))

    assert gen4.body["issues"][0]["path"] == ["promptImage", 0, "position"]  # type: ignore[index]
    assert veo.body["issues"][0]["message"] == "This model does not support generating with only a last frame."  # type: ignore[index]


def test_a_body_that_is_not_json_is_400(http: httpx.Client) -> None:
    response = http.post("/v1/text_to_video", content=b"{nope", headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert "error" in response.json()


def test_unknown_routes_are_404_and_wrong_methods_405(http: httpx.Client) -> None:
    assert http.get("/v1/generate").status_code == 404
    assert http.get("/v1/text_to_video").status_code == 405
    assert http.put("/v1/tasks/some-id").status_code == 405


def test_a_create_the_balance_cannot_cover_is_refused(clock: ManualClock) -> None:
    with (
        EmulatorServer(runway_config(credit_balance=100), clock=clock) as server,
        RunwayML(api_key=API_KEY, base_url=server.base_url, max_retries=0) as sdk,
    ):
        sdk.text_to_video.create(model="gen4.5", prompt_text="p", ratio="1280:720", duration=5)  # 60 credits
        with pytest.raises(runwayml.BadRequestError) as caught:
            sdk.text_to_video.create(model="gen4.5", prompt_text="p", ratio="1280:720", duration=5)

        assert caught.value.body == {"error": "You do not have enough credits to run this task."}
        assert server.created_count == 1
