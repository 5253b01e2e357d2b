"""A misconfigured provider is visible: the settings' own check when a function starts, a 503 that says what to
change (never a 500, never a silent pending), and GET /doctor asking each enabled provider."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from local.emulator import Fault
from sorajobs.config import Settings
from sorajobs.models.errors import ProviderNotConfigured
from sorajobs.services import Services
from sorajobs.wiring import report_configuration_problems
from tests.conftest import assert_error, http_event


def _settings(**changes: object) -> Settings:
    return Settings.model_validate({"jobs_table_name": "jobs", "openai_api_key": SecretStr("sk-test"), **changes})


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("", "shut down its hosted Videos API on 2026-09-24"),
        ("https://api.openai.com/v1", "shut down its hosted Videos API on 2026-09-24"),
        ("https://gateway.example", "must end in /v1"),
        ("gateway.example/v1", "not an http(s) URL"),
    ],
)
def test_an_openai_base_url_that_cannot_work_is_a_configuration_problem_in_words(base_url, words):
    settings = _settings(openai_base_url=base_url)

    assert words in (settings.provider_problem("openai") or "")
    assert report_configuration_problems(settings) == [settings.provider_problem("openai")]


def test_a_gateway_url_ending_in_v1_is_no_problem():
    assert _settings(openai_base_url="https://gateway.example/openai/v1").configuration_problems() == []


def test_the_openai_provider_with_no_base_url_is_not_configured_and_says_why():
    services = Services(_settings(openai_base_url=""))

    with pytest.raises(ProviderNotConfigured, match="2026-09-24"):
        services.provider("openai")


def test_a_create_answered_with_404_fails_the_job_and_answers_503_provider_misconfigured(world):
    world.emulator.inject(Fault(operation="create", status=404, times=1))

    response = world.submit()

    assert_error(response, 503, "provider_misconfigured")
    assert "base URL is wrong" in response.body["error"]["message"]
    job = world.get_job(response.body["error"]["details"][0]["job_id"]).body
    assert job["status"] == "failed"
    assert (job["error"]["code"], job["error"]["category"]) == ("provider_endpoint_not_found", "auth")


def _doctor(world, groups: str = "[admins]"):
    return world.call("sora_status", http_event("doctor", groups=groups))


def test_the_doctor_finds_every_enabled_provider_accepting_its_key(fal_world):
    world = fal_world

    answer = _doctor(world)

    assert answer.status == 200, answer.body
    assert answer.body["ok"] is True
    assert {(check["provider"], check["check"]) for check in answer.body["checks"]} == {
        (provider, check) for provider in ("openai", "fal") for check in ("settings", "key", "access")
    }


def test_the_doctor_says_when_a_provider_refuses_the_key(runway_world):
    world = runway_world
    world.runway_key = "key_wrong"
    world.use_settings()  # the backend now sends the wrong key

    answer = _doctor(world)

    assert answer.body["ok"] is False
    (access,) = [
        check for check in answer.body["checks"] if check["provider"] == "runway" and check["check"] == "access"
    ]
    assert access["ok"] is False and "refused the key" in access["message"]


def test_the_doctor_says_when_a_provider_has_no_key(world):
    world.use_settings(enabled_providers=("openai", "runway"), runway_api_key_secret_name="")

    answer = _doctor(world)

    (key,) = [check for check in answer.body["checks"] if check["provider"] == "runway" and check["check"] == "key"]
    assert key["ok"] is False and "RUNWAYML_API_SECRET" in key["message"]


def test_the_doctor_is_for_the_admin_group_only(world):
    assert_error(_doctor(world, groups="[users]"), 403, "forbidden")


def test_a_create_refused_for_our_key_or_answered_with_404_counts_no_cost(world):
    world.emulator.inject(Fault(operation="create", status=401, times=1))
    key_refused = world.submit(seconds=8)
    world.emulator.inject(Fault(operation="create", status=404, times=1))
    not_found = world.submit(seconds=8)

    for response in (key_refused, not_found):
        assert response.status == 503, response.body
        job = world.stored_job(response.body["error"]["details"][0]["job_id"])
        assert job.status == "failed" and job.estimated_cost_cents == 0
    stats = world.call("read_api", http_event("read_api_stats")).body
    assert stats["counts"]["failed"] == 2 and stats["estimated_cost_usd"] == 0
