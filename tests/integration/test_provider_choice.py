"""Per-job provider and model choice, the models listing, cancel, and a provider the deployment cannot reach."""

from __future__ import annotations

from local.emulator import Scenario
from tests.conftest import OWNER, assert_error, http_event


def _job_items(world):
    return [item for item in world.table_items() if item["pk"]["S"].startswith("JOB#")]


def test_the_models_listing_shows_each_enabled_model_with_what_it_takes_and_costs(world):
    world.use_settings(enabled_providers=("openai", "runway"))

    response = world.call("read_api", http_event("read_api_models"))

    assert response.status == 200
    listed = {(model["provider"], model["model"]): model for model in response.body["data"]}
    assert ("openai", "sora-2") in listed and ("runway", "gen4.5") in listed
    assert not any(provider == "fal" for provider, _ in listed)
    sora = listed[("openai", "sora-2")]
    assert sora["default"] and sora["seconds"] == ["4", "8", "12"] and sora["usd_per_second"] == {"*": 0.1}
    assert listed[("runway", "gen4_turbo")]["image_input"] == "required"
    runway = next(provider for provider in response.body["providers"] if provider["name"] == "runway")
    assert runway == {
        "name": "runway",
        "progress": True,
        "queue_position": False,
        "webhooks": False,
        "cancel": True,
        "output_lifetime_seconds": 86400,
    }


def test_a_submit_naming_no_model_gets_the_default_provider_s_first_model_and_its_defaults(world):
    response = world.submit()

    assert response.status == 202
    assert (response.body["provider"], response.body["model"]) == ("openai", "sora-2")
    assert (response.body["seconds"], response.body["size"]) == ("4", "720x1280")


def test_a_price_table_entry_overrides_the_list_price(world):
    world.use_settings(price_table={"sora-2": {"*": 0.5}})

    response = world.submit(seconds="8")

    assert response.body["estimated_cost_usd"] == 4.0


def test_a_provider_without_a_key_is_a_503_and_writes_nothing(world):
    world.use_settings(enabled_providers=("openai", "runway"), runway_api_key_secret_name="")

    response = world.submit(provider="runway", model="gen4.5")

    assert_error(response, 503, "provider_not_configured")
    assert "RUNWAYML_API_SECRET" in response.body["error"]["message"]
    assert _job_items(world) == []


def test_a_provider_whose_secret_is_unreadable_is_a_503_and_writes_nothing(world):
    world.use_settings(enabled_providers=("openai", "runway"), runway_api_key_secret_name="no-such-secret")

    response = world.submit(provider="runway")

    assert_error(response, 503, "provider_not_configured")
    assert _job_items(world) == []


def test_cancel_ends_a_running_job_as_cancelled_and_the_sweep_leaves_it(world):
    world.emulator.script_next(Scenario(queue_seconds=1, render_seconds=60))
    job_id = world.submit().body["id"]
    world.advance(10)
    world.sora_status(job_id)

    response = world.call("reset", http_event("cancel", job_id=job_id))

    assert response.status == 200
    assert response.body["status"] == "cancelled"
    assert response.body["error"] == {"code": "cancelled", "message": "Cancelled on request.", "category": "cancelled"}
    stored = world.stored_job(job_id)
    assert stored.next_poll_at is None and not stored.admitted
    world.advance(120)
    world.sweep()
    assert world.stored_job(job_id).status == "cancelled"


def test_cancel_of_a_completed_job_is_a_409_and_changes_nothing(world):
    world.emulator.script_next(Scenario(queue_seconds=0, render_seconds=1))
    job_id = world.submit().body["id"]
    world.advance(5)
    world.sora_status(job_id)
    world.drain_store_queue()
    before = world.stored_job(job_id)
    assert before.status == "completed"

    response = world.call("reset", http_event("cancel", job_id=job_id))

    assert_error(response, 409, "not_cancellable")
    assert world.stored_job(job_id) == before


def test_cancel_of_another_owner_s_job_is_a_404(world):
    job_id = world.submit().body["id"]

    response = world.call("reset", http_event("cancel", job_id=job_id, owner=OWNER + "-other"))

    assert_error(response, 404, "not_found")
    assert world.stored_job(job_id).status != "cancelled"


def test_a_cancelled_job_can_be_reset_and_resubmitted(world):
    job_id = world.submit().body["id"]
    world.call("reset", http_event("cancel", job_id=job_id))

    response = world.call("reset", http_event("reset", job_id=job_id, body={"resubmit": True}))

    assert response.status == 200
    assert response.body["attempt"] == 2 and response.body["status"] in ("queued", "pending")
