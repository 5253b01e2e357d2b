"""Every file in events/ is accepted by its handler as-is (they are also what `sam local invoke -e` uses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import FUNCTIONS, ROOT, LambdaContext, load_event, load_handler


@pytest.mark.parametrize(
    ("function_dir", "event_name", "status"),
    [
        ("submit", "submit", 202),
        ("submit", "upload", 201),
        ("sora_status", "sora_status", 404),  # the sample's job id is not in this table
        ("sora_status", "doctor", 200),
        ("reset", "reset", 404),
        ("reset", "cancel", 404),
        ("read_api", "read_api_get", 404),
        ("read_api", "read_api_attempts", 404),
        ("read_api", "read_api_list", 200),
        ("read_api", "read_api_content", 404),
        ("read_api", "read_api_stats", 200),
        ("read_api", "read_api_models", 200),
        ("read_api", "read_api_openapi", 200),
        ("read_api", "read_api_docs", 200),
        ("webhooks_api", "webhooks_api_list", 404),
        ("webhooks_api", "webhooks_api_replay", 404),
        ("provider_webhook", "provider_webhook", 401),  # the sample's signature is not this stack's
        ("provider_webhook", "fal_webhook", 401),  # nor is this one fal's
    ],
)
def test_each_http_event_file_reaches_its_route(world, function_dir, event_name, status):
    response = load_handler(function_dir).lambda_handler(load_event(event_name), LambdaContext())

    assert response["statusCode"] == status


def test_the_schedule_event_file_runs_the_sweep(world):
    result = load_handler("poll_sora_status").lambda_handler(load_event("poll_sora_status"), LambdaContext())

    assert result == {"outcomes": {}, "passes": 1, "stopped_early": False}


def test_the_stream_event_file_queues_the_event_to_the_jobs_webhook_url(world):
    result = load_handler("webhook_events").lambda_handler(load_event("webhook_events"), LambdaContext())

    assert result == {"batchItemFailures": []}
    [delivery] = world.services.webhooks.all_for_job("job_0123456789abcdef01234567")
    assert (delivery.event_type, delivery.url) == ("video.queued", "https://hooks.example.com/sora")


def test_the_delivery_event_file_is_accepted_and_its_unknown_delivery_dropped(world):
    result = load_handler("deliver_webhook").lambda_handler(load_event("deliver_webhook"), LambdaContext())

    assert result == {"batchItemFailures": []}
    assert world.receivers.received == []


def _modules_after_import(function_dir: str) -> set[str]:
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("app", {str(FUNCTIONS / function_dir / "app.py")!r})
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        print("\\n".join(sys.modules))
        """
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return set(output.split())


@pytest.mark.parametrize(
    "function_dir",
    [
        "read_api",
        "sora_status",
        "reset",
        "submit",
        "poll_sora_status",
        "webhooks_api",
        "provider_webhook",
        "webhook_events",
        "deliver_webhook",
    ],
)
def test_importing_a_handler_does_not_import_openai(function_dir):
    # `import openai` costs about 0.8 s of cold start; only a provider call may pay it.
    assert "openai" not in _modules_after_import(function_dir)


@pytest.mark.parametrize(
    "function_dir", ["read_api", "sora_status", "reset", "submit", "webhooks_api", "provider_webhook"]
)
def test_importing_an_http_handler_does_not_load_the_openapi_models(function_dir):
    # Powertools' OpenAPI models (41 pydantic models) serve GET /openapi.json only: about a tenth of the import.
    assert "aws_lambda_powertools.event_handler.openapi.models" not in _modules_after_import(function_dir)
