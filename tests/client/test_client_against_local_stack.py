"""The client over real HTTP against the local stack: the contract, each provider from submit to a verified
download (sync and async), pages, reset and cancel, webhooks, and the errors the stack can be made to answer.

Both clocks are manual and the store step is driven by hand: the client's `sleep` moves time, so no test waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, get_args

import httpx
import pytest

from local.emulator.scenarios import Scenario
from local.stack import LocalStack
from sorajobs_client import (
    ApiError,
    AsyncSoraJobs,
    Job,
    Progress,
    RetryPolicy,
    SoraJobs,
    WebhookEvent,
    verify_webhook,
)
from sorajobs_client import models as client_models
from sorajobs_client._core import CreateOptions
from sorajobs_client.cli import EXIT_API_ERROR, EXIT_AUTH, EXIT_UNREACHABLE, main
from tests.client.helpers import Clocks, manual_local_stack, on_manual_time
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

PROVIDERS = ["openai", "fal", "runway"]
# Admission limits on, so their 429s can be provoked; every test uses its own owner, which they count per.
LIMITS = {"MaxActiveJobsPerOwner": "3", "DailySpendLimitUsd": "5"}


@pytest.fixture(scope="module")
def clocks() -> Clocks:
    return Clocks.now()


@pytest.fixture(scope="module")
def stack(clocks: Clocks) -> Iterator[LocalStack]:
    # sora-status and the sweep carry the jobs; webhooks out are driven by hand
    with manual_local_stack(clocks, parameters=LIMITS) as local:
        yield local


_owners = iter(range(1_000_000))


@pytest.fixture
def owner() -> str:
    return f"client-user-{next(_owners)}"


@pytest.fixture
def api(stack: LocalStack, clocks: Clocks, owner: str) -> Iterator[SoraJobs]:
    with SoraJobs(stack.gateway_url, stack.mint_token(owner), **on_manual_time(stack, clocks)) as client:
        yield client


def async_api(stack: LocalStack, clocks: Clocks, owner: str) -> AsyncSoraJobs:
    manual = on_manual_time(stack, clocks)

    async def time_passes_async(seconds: float) -> None:
        manual["sleep"](seconds)

    return AsyncSoraJobs(stack.gateway_url, stack.mint_token(owner), sleep=time_passes_async, clock=manual["clock"])


def served_openapi(stack: LocalStack) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{stack.gateway_url}/openapi.json").json()
    return document


# --- the contract ---------------------------------------------------------------------------------

# The client's models and the served schemas they stand for.
SCHEMAS = {
    "Job": "VideoJobResponse",
    "JobError": "JobErrorResponse",
    "VideoContent": "VideoContentResponse",
    "JobList": "VideoJobListResponse",
    "Model": "ModelResponse",
    "Provider": "ProviderResponse",
    "ModelList": "ModelListResponse",
    "WebhookDelivery": "WebhookDeliveryResponse",
    "DeliveryAttempt": "DeliveryAttemptResponse",
    "WebhookDeliveryList": "WebhookDeliveryListResponse",
    "ErrorBody": "ErrorBody",
    "ErrorResponse": "ErrorResponse",
    "Attempt": "AttemptResponse",
    "AttemptList": "AttemptListResponse",
    "ImageUpload": "ImageUploadResponse",
    "Stats": "StatsResponse",
    "DoctorCheck": "DoctorCheck",
    "DoctorReport": "DoctorResponse",
}


def type_of(schema: Any, definitions: dict[str, Any], names: dict[str, str]) -> Any:
    """A property's type without titles, descriptions and constraints: enums by their values, objects by name."""
    if schema is True or schema == {}:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = definitions[name]
        return type_of(target, definitions, names) if "enum" in target else ("object", names.get(name, name))
    if "anyOf" in schema:
        return frozenset(type_of(option, definitions, names) for option in schema["anyOf"])
    if "enum" in schema:
        return ("enum", frozenset(schema["enum"]))
    if schema.get("type") == "array":
        return ("array", type_of(schema["items"], definitions, names))
    if schema.get("type") == "object":
        return ("map", type_of(schema.get("additionalProperties", True), definitions, names))
    return schema["type"]


@pytest.mark.parametrize(("client_name", "served_name"), SCHEMAS.items())
def test_each_client_model_has_the_fields_and_types_of_the_served_schema(stack, client_name, served_name):
    served_definitions = served_openapi(stack)["components"]["schemas"]
    served = served_definitions[served_name]
    mine_document = getattr(client_models, client_name).model_json_schema()
    mine_definitions = {client_name: mine_document, **mine_document.get("$defs", {})}
    mine = mine_definitions[client_name]

    assert set(mine["properties"]) == set(served["properties"])
    assert set(mine.get("required", [])) == set(served.get("required", []))
    for name, schema in served["properties"].items():
        theirs = type_of(schema, served_definitions, {})
        ours = type_of(mine["properties"][name], mine_definitions, SCHEMAS)
        assert ours == theirs, f"{client_name}.{name}"


def test_the_create_options_are_the_fields_of_the_served_submit_request(stack):
    submit = served_openapi(stack)["components"]["schemas"]["SubmitVideoRequest"]

    assert {"prompt", *CreateOptions.__annotations__} - {"idempotency_key"} == set(submit["properties"])


# Each operation the served document offers a caller, and the client method that calls it.
OPERATIONS = {
    "createVideo": "create",
    "getVideo": "retrieve",
    "refreshVideoStatus": "refresh",
    "listVideos": "list_page",
    "resetVideo": "reset",
    "cancelVideo": "cancel",
    "getVideoContent": "download",
    "listVideoAttempts": "attempts",
    "listModels": "models",
    "getStats": "stats",
    "runDoctor": "doctor",
    "createImageUpload": "upload_image",
    "listWebhookDeliveries": "webhooks",
    "replayWebhook": "replay_webhook",
}
# What providers call, not clients.
PROVIDER_OPERATIONS = {"receiveOpenAIWebhook", "receiveFalWebhook"}


def test_every_served_operation_has_a_method_in_both_clients(stack):
    served = {
        operation["operationId"]
        for path in served_openapi(stack)["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }

    assert served - PROVIDER_OPERATIONS == set(OPERATIONS)
    for method in OPERATIONS.values():
        assert callable(getattr(SoraJobs, method)) and callable(getattr(AsyncSoraJobs, method)), method


def test_the_job_status_values_are_the_served_ones(stack):
    served = served_openapi(stack)["components"]["schemas"]["JobStatus"]["enum"]

    assert set(get_args(client_models.JobStatus)) == set(served)


# --- each provider, from submit to a verified file ------------------------------------------------


def check_progress_reports(reports: list[Progress], job: Job) -> None:
    statuses = [report.status for report in reports]
    assert statuses[-1] == "completed" and "completed" not in statuses[:-1]
    assert [report.progress for report in reports] == sorted(report.progress for report in reports)
    assert all(report.cost_usd == job.estimated_cost_usd > 0 for report in reports)
    assert [report.elapsed_seconds for report in reports] == sorted(report.elapsed_seconds for report in reports)
    assert reports[-1].next_poll_seconds is None and all(r.next_poll_seconds for r in reports[:-1])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_client_submits_waits_with_progress_and_downloads_the_verified_video(stack, api, provider, tmp_path):
    reports: list[Progress] = []

    job = api.create_and_wait("A lighthouse at dawn", provider=provider, on_progress=reports.append)
    saved = api.download(job.id, to=tmp_path)

    assert (job.provider, job.status, job.ready) == (provider, "completed", True)
    check_progress_reports(reports, job)
    assert job.video is not None and saved.path == tmp_path / f"{job.id}.mp4"
    assert hashlib.sha256(saved.path.read_bytes()).hexdigest() == saved.sha256 == job.video.sha256
    assert saved.bytes == job.video.bytes and saved.path.read_bytes()[4:8] == b"ftyp"
    if provider == "fal":
        assert any(report.queue_position is not None for report in reports)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_async_client_submits_waits_with_progress_and_downloads_the_verified_video(
    stack, clocks, owner, provider, tmp_path
):
    reports: list[Progress] = []
    downloaded: list[tuple[int, int | None]] = []

    async def scenario() -> tuple[Job, Any]:
        async with async_api(stack, clocks, owner) as client:
            created = await client.create("A lighthouse at dawn", provider=provider)
            job = await client.wait(created.id, on_progress=reports.append)
            saved = await client.download(
                job.id, to=tmp_path / "video.mp4", on_progress=lambda done, total: downloaded.append((done, total))
            )
            listed = [listed async for listed in client.list()]
            assert [listed_job.id for listed_job in listed] == [job.id]
            return job, saved

    job, saved = asyncio.run(scenario())

    assert (job.provider, job.status) == (provider, "completed")
    check_progress_reports(reports, job)
    assert hashlib.sha256((tmp_path / "video.mp4").read_bytes()).hexdigest() == job.video.sha256 == saved.sha256
    assert downloaded[-1] == (job.video.bytes, job.video.bytes)


def test_a_create_whose_answer_is_lost_is_retried_under_its_key_and_makes_one_job(stack, owner):
    class LoseFirstAnswer(httpx.HTTPTransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.method == "POST" and not self.lost:
                self.lost += 1
                response.close()
                raise httpx.ReadError("connection reset after the request was sent", request=request)
            return response

    transport = LoseFirstAnswer()
    with SoraJobs(stack.gateway_url, stack.mint_token(owner), transport=transport, sleep=lambda _: None) as api:
        job = api.create("A kite over the dunes")
        listed = list(api.list())

    assert transport.lost == 1
    assert [listed_job.id for listed_job in listed] == [job.id]


def test_list_follows_next_cursor_newest_first(api, clocks):
    created = []
    for number in range(3):
        created.append(api.create(f"Clip {number}").id)
        clocks.advance(1)  # jobs created in the same instant are listed by id

    first_page = api.list_page(limit=2)

    assert [job.id for job in api.list(page_size=1)] == created[::-1]
    assert len(first_page.data) == 2 and first_page.next_cursor is not None
    assert next(job.id for job in api.list(status=first_page.data[0].status, page_size=2)) == created[-1]


def test_cancel_then_reset_with_resubmit_starts_a_second_attempt(api):
    job = api.create("A train crossing a bridge", provider="runway")

    cancelled = api.cancel(job.id)
    resubmitted = api.reset(job.id, resubmit=True)
    refreshed = api.refresh(job.id)

    assert (cancelled.status, cancelled.error.category) == ("cancelled", "cancelled")
    assert resubmitted.attempt == 2 and resubmitted.status in ("pending", "queued")
    assert refreshed.id == job.id and refreshed.attempt == 2


def test_the_attempts_list_the_abandoned_attempt_then_the_current_one(api):
    job = api.create("A train crossing a bridge", provider="runway")
    api.reset(job.id, resubmit=True)

    attempts = api.attempts(job.id)

    assert attempts.job_id == job.id
    assert [(attempt.attempt, attempt.current) for attempt in attempts.data] == [(1, False), (2, True)]
    assert attempts.data[0].ended_at is not None and attempts.data[1].status in ("pending", "queued")


PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
# fal takes the local stack's presigned URL of the image; Runway takes only https URLs on a domain, which the
# local S3 (moto on http://127.0.0.1) cannot give, so locally a Runway job with an image is refused.
IMAGE_MODEL = "fal-ai/kling-video/v2.1/master/image-to-video"


def image_sent_to_fal(stack: LocalStack, job: Job | dict[str, Any]) -> str:
    """The image URL the job's create handed fal (a presigned URL of the upload)."""
    assert stack.fal_emulator is not None
    provider_video_id = job.provider_video_id if isinstance(job, Job) else job["provider_video_id"]
    request = stack.fal_emulator.request(provider_video_id.rsplit("/", 1)[-1])
    return str(request["arguments"]["image_url"])


def test_sync_client_uploads_an_image_and_a_job_made_from_it_completes(stack, api, tmp_path):
    image = tmp_path / "first-frame.png"
    image.write_bytes(PNG)

    upload = api.upload_image(image)
    job = api.create_and_wait(
        "The frame comes alive", provider="fal", model=IMAGE_MODEL, image_upload_id=upload.upload_id
    )

    assert upload.upload_id.startswith("upl_") and job.status == "completed"
    assert upload.upload_id in image_sent_to_fal(stack, job)


def test_async_client_uploads_an_image_and_a_job_made_from_it_completes(stack, clocks, owner, tmp_path):
    image = tmp_path / "first-frame.png"
    image.write_bytes(PNG)

    async def scenario() -> Job:
        async with async_api(stack, clocks, owner) as client:
            upload = await client.upload_image(image)
            created = await client.create(
                "The frame comes alive", provider="fal", model=IMAGE_MODEL, image_upload_id=upload.upload_id
            )
            return await client.wait(created.id)

    assert asyncio.run(scenario()).status == "completed"


def test_stats_count_the_callers_jobs_and_the_admin_group_sees_every_owner(stack, api):
    job = api.create("A kite over the dunes")
    api.cancel(job.id)

    mine = api.stats()
    with SoraJobs(stack.gateway_url, stack.mint_token("an-admin", [stack.admin_group])) as admin:
        everyone = admin.stats()

    assert (mine.scope, mine.total, mine.counts.get("cancelled")) == ("owner", 1, 1)
    assert everyone.scope == "all" and everyone.total >= mine.total


def test_the_doctor_finds_every_enabled_provider_reachable_with_its_key(stack):
    with SoraJobs(stack.gateway_url, stack.mint_token("an-admin", [stack.admin_group])) as admin:
        report = admin.doctor()

    assert report.ok, report.checks
    assert {check.provider for check in report.checks} == set(PROVIDERS)
    assert {check.check for check in report.checks} == {"settings", "key", "access"}


def test_reset_without_resubmit_ends_a_wait_as_reset(api):
    job = api.create("A train crossing a bridge")

    api.reset(job.id)

    assert api.wait(job.id).status == "reset"


# --- webhooks: the log, a replay, and checking what arrived ---------------------------------------


def test_the_webhook_log_lists_deliveries_a_replay_resends_and_verify_accepts_what_arrived(stack, clocks, api):
    receiver = Receiver()
    try:
        job = api.create_and_wait("A kite over the dunes", webhook_url=receiver.url)
        stack.stream_poller.drain()
        stack.webhook_poller.drain()
        log = list(api.webhooks(job.id))
        replay = api.replay_webhook(job.id)
        stack.webhook_poller.drain()
    finally:
        receiver.stop()

    assert stack.resources is not None
    secret = stack.resources.webhook_signing_secret
    events = [
        verify_webhook(secret, body, headers, now=clocks.backend.now().timestamp())
        for headers, body in receiver.requests
    ]
    assert all(isinstance(event, WebhookEvent) and event.data.id == job.id for event in events)
    assert events[-2].type == "video.completed" and events[-1].id == events[-2].id  # the replay, same id
    assert {delivery.state for delivery in log} == {"delivered"}
    assert log[0].type == "video.completed" and log[0].destination == "job"
    assert replay.event_id == log[0].event_id and [d.url for d in replay.deliveries] == [receiver.url]


# --- errors the local stack can be made to answer --------------------------------------------------


def cancel_completed(api: SoraJobs) -> None:
    api.cancel(api.create_and_wait("done").id)


def reset_completed(api: SoraJobs) -> None:
    api.reset(api.create_and_wait("done").id)


def download_unfinished(api: SoraJobs) -> None:
    api.download(api.create("not yet").id)


def download_cancelled(api: SoraJobs) -> None:
    api.download(api.cancel(api.create("never mind").id).id)


def reuse_key(api: SoraJobs) -> None:
    api.create("first", idempotency_key="same-key")
    api.create("second", idempotency_key="same-key")


def too_many_active(api: SoraJobs) -> None:
    for number in range(4):
        api.create(f"Clip {number}")


# code: (HTTP status, what provokes it through the client)
PROVOKED: dict[str, tuple[int, Callable[[SoraJobs], Any]]] = {
    "unsupported_model": (400, lambda api: api.create("x", model="no-such-model")),
    "unsupported_option": (400, lambda api: api.create("x", seconds=5)),
    "image_upload_not_found": (400, lambda api: api.create("x", provider="runway", image_upload_id="upl_" + "0" * 32)),
    "invalid_cursor": (400, lambda api: api.list_page(cursor="not-a-cursor")),
    "forbidden": (403, lambda api: api.doctor()),
    "not_found": (404, lambda api: api.retrieve("job_00000000000000000000beef")),
    "job_completed": (409, reset_completed),
    "not_ready": (409, download_unfinished),
    "no_video": (409, download_cancelled),
    "not_cancellable": (409, cancel_completed),
    # A body over the 1 MiB limit (a prompt of 32,000 characters, any characters, is well within it).
    "payload_too_large": (413, lambda api: api.create("\U0001f30a" * 300_000)),
    "validation_error": (422, lambda api: api.list_page(limit=1000)),
    "idempotency_key_reused": (422, reuse_key),
    "webhook_url_not_allowed": (422, lambda api: api.create("x", webhook_url="https://10.0.0.1/hooks")),
    "too_many_active_jobs": (429, too_many_active),
    "daily_spend_limit_reached": (429, lambda api: api.create("x", model="sora-2-pro", seconds=12, size="1792x1024")),
}


@pytest.mark.parametrize("code", PROVOKED)
def test_each_error_the_stack_answers_is_a_typed_exception_with_its_code(stack, clocks, owner, code):
    status, provoke = PROVOKED[code]
    no_retries = RetryPolicy(max_retries=0)
    api = SoraJobs(stack.gateway_url, stack.mint_token(owner), retry=no_retries, **on_manual_time(stack, clocks))
    with api, pytest.raises(ApiError) as raised:
        provoke(api)

    error = raised.value
    assert (error.code, error.status_code) == (code, status)
    assert error.message and error.request_id  # the gateway's apigw-requestid
    assert type(error).__name__ != "ApiError"  # a subclass per status


def test_a_provider_rejection_is_a_422_naming_the_failed_job(stack, clocks, api):
    assert stack.emulator is not None
    stack.emulator.add_rule(prompt_contains="the provider refuses", scenario=Scenario(reject_code="moderation_blocked"))
    for _ in range(3):  # the create budget refills and the sweep sends what waits, so this create goes at once
        clocks.advance(60)
        stack.scheduler.run_once()

    with pytest.raises(ApiError) as raised:
        api.create("something the provider refuses")

    assert (raised.value.code, raised.value.status_code) == ("moderation_blocked", 422)
    assert api.retrieve(raised.value.job_id).status == "failed"  # type: ignore[attr-defined]


def test_a_key_the_provider_refuses_is_a_503_provider_auth_failed(stack, api):
    emulator = stack.runway_emulator
    assert emulator is not None
    right = emulator.config
    emulator.config = dataclasses.replace(right, api_key="key_someone_else")
    try:
        with pytest.raises(ApiError) as raised:
            api.create("x", provider="runway")
    finally:
        emulator.config = right

    assert (raised.value.code, raised.value.status_code) == ("provider_auth_failed", 503)


@pytest.mark.parametrize(
    ("token", "code"),
    [("not-a-jwt", "invalid_token"), ("{expired}", "token_expired"), ("{no_subject}", "unauthorized")],
)
def test_a_refused_token_is_an_authentication_error(stack, token, code):
    token = token.format(expired=stack.mint_token("x", expires_in=-60), no_subject=stack.mint_token(""))
    with SoraJobs(stack.gateway_url, token) as api, pytest.raises(ApiError) as raised:
        api.list_page()

    assert (raised.value.code, raised.value.status_code, type(raised.value).__name__) == (
        code,
        401,
        "AuthenticationError",
    )


def test_a_wrong_api_path_is_route_not_found(stack, owner):
    with SoraJobs(f"{stack.gateway_url}/v1", stack.mint_token(owner)) as api, pytest.raises(ApiError) as raised:
        api.models()

    assert (raised.value.code, raised.value.status_code) == ("route_not_found", 404)


# --- the same through the tool --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "exit_code"),
    [
        (["submit", "x", "--model", "no-such-model"], "unsupported_model", EXIT_API_ERROR),
        (["submit", "x", "--seconds", "5"], "unsupported_option", EXIT_API_ERROR),
        (["show", "job_00000000000000000000beef"], "not_found", EXIT_API_ERROR),
        (["download", "job_00000000000000000000beef"], "not_found", EXIT_API_ERROR),
        (["submit", "x", "--webhook-url", "https://10.0.0.1/hooks"], "webhook_url_not_allowed", EXIT_API_ERROR),
        (["--token", "not-a-jwt", "models"], "invalid_token", EXIT_AUTH),
        (["--api-url", "{gateway}/v1", "models"], "route_not_found", EXIT_UNREACHABLE),
        (["--api-url", "http://127.0.0.1:9", "models"], "network_error", EXIT_UNREACHABLE),
    ],
)
def test_the_tool_prints_one_line_and_exits_with_the_errors_code(stack, owner, capsys, argv, code, exit_code):
    argv = [part.format(gateway=stack.gateway_url) for part in argv]
    environ = {"SORA_JOBS_API_URL": stack.gateway_url, "SORA_JOBS_TOKEN": stack.mint_token(owner)}

    status = main([*argv, "--json"], environ=environ, client_options={"sleep": lambda _: None})

    out, err = capsys.readouterr()
    assert status == exit_code
    assert json.loads(out)["error"]["code"] == code  # exactly one JSON document on stdout
    assert err.count("\n") == 1 and err.startswith("sora-jobs: error: ") and code in err
    assert "Traceback" not in err


def test_the_tool_lists_shows_cancels_resets_and_replays_as_json(stack, api, owner, capsys):
    environ = {"SORA_JOBS_API_URL": stack.gateway_url, "SORA_JOBS_TOKEN": stack.mint_token(owner)}

    def run(*argv: str) -> Any:
        assert main([*argv, "--json"], environ=environ) == 0
        return json.loads(capsys.readouterr().out)

    submitted = run("submit", "A heron in the reeds", "--provider", "runway", "--metadata", "campaign=autumn")
    job_id = submitted["id"]

    assert submitted["metadata"] == {"campaign": "autumn"} and submitted["provider"] == "runway"
    assert run("show", job_id)["id"] == job_id
    assert [job["id"] for job in run("ls")["data"]] == [job_id]
    assert {model["provider"] for model in run("models")["data"]} == set(PROVIDERS)
    assert run("cancel", job_id)["status"] == "cancelled"
    assert run("reset", job_id)["status"] == "reset"
    assert run("webhooks", job_id) == {"data": []}
    assert [attempt["attempt"] for attempt in run("attempts", job_id)["data"]] == [1]
    assert run("stats")["counts"]["reset"] == 1


def test_the_tool_uploads_an_image_submits_with_it_and_an_admin_runs_the_doctor(stack, owner, capsys, tmp_path):
    image = tmp_path / "first-frame.png"
    image.write_bytes(PNG)
    environ = {"SORA_JOBS_API_URL": stack.gateway_url, "SORA_JOBS_TOKEN": stack.mint_token(owner)}
    admin = {**environ, "SORA_JOBS_TOKEN": stack.mint_token("an-admin", [stack.admin_group])}

    def run(*argv: str, env: dict[str, str] = environ) -> Any:
        assert main([*argv, "--json"], environ=env) == 0
        return json.loads(capsys.readouterr().out)

    upload_id = run("upload", str(image))["upload_id"]
    by_id = run("submit", "x", "--provider", "fal", "--model", IMAGE_MODEL, "--image-upload-id", upload_id)
    by_file = run("submit", "y", "--provider", "fal", "--model", IMAGE_MODEL, "--image", str(image))

    assert upload_id in image_sent_to_fal(stack, by_id)
    assert "/upl_" in image_sent_to_fal(stack, by_file) and upload_id not in image_sent_to_fal(stack, by_file)
    assert run("doctor", env=admin)["ok"] is True
