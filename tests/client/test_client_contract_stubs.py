"""The client and the tool against stub answers (httpx.MockTransport): every error code of the README's error
table, retries, waits on a fake clock, downloads and webhook signatures. No network, no stack, no sleeping.

Codes the local stack can be made to answer are provoked for real in test_client_against_local_stack.py; these
stubs also cover the ones it cannot: invalid_json and unsupported_media_type (the client always sends JSON),
invalid_event and invalid_signature (provider webhook routes, not client operations), conflict and
request_in_progress (races between two writers), provider_not_configured (a deployment without the key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from sorajobs_client import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    Job,
    NetworkError,
    PermissionDeniedError,
    Progress,
    ProviderUnavailableError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    SoraJobs,
    UnexpectedResponseError,
    WaitTimeout,
    WebhookVerificationError,
    verify_webhook,
)
from sorajobs_client.cli import (
    EXIT_API_ERROR,
    EXIT_AUTH,
    EXIT_CANCELLED,
    EXIT_DOWNLOAD,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RESET,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_UPLOAD,
    EXIT_USAGE,
    main,
)

README = Path(__file__).resolve().parents[2] / "README.md"
API = "https://api.example.test"
ENV = {"SORA_JOBS_API_URL": API, "SORA_JOBS_TOKEN": "token-1"}


def readme_error_codes() -> list[tuple[int, str]]:
    """(status, code) of every row of the README's error table; a provider's own rejection stands as
    moderation_blocked, the README's example of one."""
    text = README.read_text()
    table = text[text.index("| status | codes |") :].split("\n\n", 1)[0]
    codes = []
    for line in table.splitlines()[2:]:
        status, cell = (part.strip() for part in line.strip("|").split("|", 1))
        while re.search(r"\([^()]*\)", cell):  # the explanations in parentheses name fields, not codes
            cell = re.sub(r"\([^()]*\)", "", cell)
        codes.extend((int(status), code) for code in re.findall(r"`([a-z_]+)`", cell))
    return [*codes, (422, "moderation_blocked")]


ERROR_CODES = readme_error_codes()


def test_the_readme_table_is_read_whole():
    assert len(ERROR_CODES) >= 25
    assert {(400, "invalid_cursor"), (409, "request_in_progress"), (503, "provider_auth_failed")} <= set(ERROR_CODES)


def job_json(**changes: Any) -> dict[str, Any]:
    job = {
        "id": "job_1",
        "status": "queued",
        "progress": 0,
        "ready": False,
        "prompt": "A boat",
        "provider": "fal",
        "model": "fal-ai/veo3/fast",
        "seconds": "8",
        "size": "1280x720",
        "image_url": None,
        "provider_video_id": "req_1",
        "queue_position": 2,
        "attempt": 1,
        "created_at": "2026-11-21T12:00:00.000Z",
        "updated_at": "2026-11-21T12:00:00.000Z",
        "completed_at": None,
        "error": None,
        "video": None,
        "estimated_seconds_remaining": 60,
        "eta_seconds": 60,
        "eta_low_seconds": 45,
        "eta_high_seconds": 90,
        "estimated_cost_usd": 3.2,
        "metadata": {},
        "webhook_url": None,
    }
    return {**job, **changes}


def envelope(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": f"The API says {code}.", "details": [{"job_id": "job_1"}]}}
    return httpx.Response(status, json=body, headers={"apigw-requestid": "req-42", **headers})


class Stub:
    """Answers requests in order from a list (the last one repeats) and records them."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(stub: Stub, time: FakeTime | None = None, **options: Any) -> SoraJobs:
    time = time or FakeTime()
    return SoraJobs(API, "token-1", transport=stub.transport, sleep=time.sleep, clock=time.clock, **options)


# --- every error code ---------------------------------------------------------------------------


def cli_exit_code(status: int, code: str) -> int:
    if status == 401:
        return EXIT_AUTH
    if code == "route_not_found":
        return EXIT_UNREACHABLE
    return EXIT_API_ERROR


@pytest.mark.parametrize(("status", "code"), ERROR_CODES, ids=[code for _, code in ERROR_CODES])
def test_every_error_code_is_a_typed_exception_with_code_message_details_status_and_request_id(status, code):
    # A Retry-After beyond what the client waits out: the 429s surface at once instead of being retried.
    stub = Stub(envelope(status, code, **{"Retry-After": "3600"}))

    with client(stub) as api, pytest.raises(ApiError) as raised:
        api.retrieve("job_1")

    error = raised.value
    assert (error.code, error.status_code, error.request_id) == (code, status, "req-42")
    assert error.message == f"The API says {code}." and error.details == [{"job_id": "job_1"}]
    assert type(error) is not ApiError
    if status == 401:
        assert isinstance(error, AuthenticationError)
    if status == 503:
        assert isinstance(error, ProviderUnavailableError) and error.job_id == "job_1"
    if status == 429:
        assert isinstance(error, RateLimitedError) and error.retry_after == 3600


@pytest.mark.parametrize(("status", "code"), ERROR_CODES, ids=[code for _, code in ERROR_CODES])
def test_the_tool_prints_one_line_and_the_documented_exit_code_for_every_error_code(status, code, capsys):
    stub = Stub(envelope(status, code, **{"Retry-After": "3600"}))

    exit_code = main(["show", "job_1"], environ=ENV, client_options={"transport": stub.transport})

    out, err = capsys.readouterr()
    assert exit_code == cli_exit_code(status, code)
    hint = {
        "route_not_found": " (check --api-url or SORA_JOBS_API_URL)",
        "unauthorized": " (check --token or SORA_JOBS_TOKEN)",
    }
    assert (
        err == f"sora-jobs: error: The API says {code}. [{code}, HTTP {status}, request req-42]{hint.get(code, '')}\n"
    )
    assert json.loads(out)["error"] == {
        "code": code,
        "message": f"The API says {code}.",
        "exit_code": exit_code,
        "details": [{"job_id": "job_1"}],
        "status": status,
        "request_id": "req-42",
    }


def test_an_unexpected_server_error_is_retried_then_reported_as_unreachable(capsys):
    stub = Stub(envelope(500, "internal_error"))

    exit_code = main(["show", "job_1"], environ=ENV, client_options={"transport": stub.transport, "sleep": print})

    assert exit_code == EXIT_UNREACHABLE and len(stub.requests) == 4
    assert "internal_error, HTTP 500" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answer", "code", "kind"),
    [
        (httpx.Response(401, json={"message": "Unauthorized"}), "unauthorized", AuthenticationError),
        (
            httpx.Response(
                401,
                json={"message": "Unauthorized"},
                headers={
                    "www-authenticate": 'Bearer scope="" error="invalid_token" error_description="the token has '
                    'expired"'
                },
            ),
            "token_expired",
            AuthenticationError,
        ),
        (httpx.Response(404, json={"message": "Not Found"}), "route_not_found", ApiError),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), "bad_gateway", ServerError),
        (httpx.Response(200, text="<html>a login page</html>"), "unexpected_response", UnexpectedResponseError),
        (httpx.Response(200, json={"id": "job_1"}), "unexpected_response", UnexpectedResponseError),
        (httpx.Response(418, text="teapot"), "http_418", UnexpectedResponseError),
    ],
)
def test_answers_without_the_envelope_are_typed_too(answer, code, kind):
    with client(Stub(answer)) as api, pytest.raises(kind) as raised:
        api.retrieve("job_1")

    assert raised.value.code == code


def test_no_url_or_no_token_is_a_configuration_error_and_a_usage_exit(capsys):
    with pytest.raises(ConfigurationError):
        SoraJobs(environ={})

    assert main(["ls"], environ={"SORA_JOBS_API_URL": API}) == EXIT_USAGE
    assert "No token" in capsys.readouterr().err


def test_the_local_stacks_env_file_names_are_read_too():
    api = SoraJobs(environ={"API": "http://127.0.0.1:3000/", "TOKEN": "t"})

    assert api.api_url == "http://127.0.0.1:3000"


def test_bad_arguments_are_a_usage_exit_with_one_json_document(capsys):
    assert main(["submit", "--json"], environ=ENV) == EXIT_USAGE
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "usage"


# --- retries ------------------------------------------------------------------------------------


def test_a_create_is_retried_under_one_idempotency_key_through_503_429_and_a_lost_answer():
    stub = Stub(
        envelope(503, "service_unavailable"),
        envelope(429, "too_many_requests", **{"Retry-After": "7"}),
        httpx.ReadTimeout("no answer"),
        httpx.Response(202, json=job_json()),
    )
    time = FakeTime()

    with client(stub, time) as api:
        job = api.create("A boat", provider="fal", seconds=8, metadata={"a": "b"})

    keys = {request.headers["idempotency-key"] for request in stub.requests}
    assert job.id == "job_1" and len(stub.requests) == 4 and len(keys) == 1
    assert json.loads(stub.requests[0].content) == {
        "prompt": "A boat",
        "provider": "fal",
        "seconds": "8",
        "metadata": {"a": "b"},
    }
    assert time.slept[1] >= 7  # the Retry-After
    assert 0.5 <= time.slept[0] <= 0.625 and 2 <= time.slept[2] <= 2.5  # backoff, doubling, with jitter


def test_two_creates_get_two_keys():
    stub = Stub(httpx.Response(202, json=job_json()))

    with client(stub) as api:
        api.create("A boat")
        api.create("A boat")

    assert stub.requests[0].headers["idempotency-key"] != stub.requests[1].headers["idempotency-key"]


def test_a_cancel_is_not_repeated_after_a_lost_answer_or_a_500_but_is_after_a_429():
    lost = Stub(httpx.ReadTimeout("no answer"), httpx.Response(200, json=job_json(status="cancelled")))
    failed = Stub(envelope(500, "internal_error"), httpx.Response(200, json=job_json(status="cancelled")))
    throttled = Stub(envelope(429, "too_many_requests"), httpx.Response(200, json=job_json(status="cancelled")))

    with client(lost) as api, pytest.raises(NetworkError):
        api.cancel("job_1")
    with client(failed) as api, pytest.raises(ServerError):
        api.cancel("job_1")
    with client(throttled) as api:
        assert api.cancel("job_1").status == "cancelled"


def test_a_connection_that_never_opened_is_retried_then_a_network_error():
    stub = Stub(httpx.ConnectError("connection refused"))

    with client(stub) as api, pytest.raises(NetworkError, match="Could not reach the API"):
        api.models()

    assert len(stub.requests) == 4


def test_a_retry_after_longer_than_the_client_waits_out_is_raised_at_once():
    stub = Stub(envelope(429, "daily_spend_limit_reached", **{"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}))

    with client(stub) as api, pytest.raises(RateLimitedError) as raised:
        api.create("A boat")

    assert len(stub.requests) == 1 and raised.value.retry_after > 60


def test_a_conflict_is_retried_as_the_server_asks():
    stub = Stub(envelope(409, "conflict", **{"Retry-After": "1"}), httpx.Response(200, json=job_json(status="reset")))

    with client(stub, retry=RetryPolicy(max_retries=1)) as api:
        assert api.reset("job_1").status == "reset"


# --- waits --------------------------------------------------------------------------------------


def status_answers(*jobs: dict[str, Any], retry_after: str | None = None) -> Stub:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return Stub(*(httpx.Response(200, json=job, headers=headers) for job in jobs))


def test_a_wait_reports_each_poll_and_backs_off_while_nothing_moves():
    stub = status_answers(
        job_json(status="queued", queue_position=2),
        job_json(status="queued", queue_position=2),
        job_json(status="queued", queue_position=2),
        job_json(status="queued", queue_position=2),
        job_json(
            status="in_progress", queue_position=None, progress=40, estimated_seconds_remaining=20, eta_seconds=20
        ),
        job_json(
            status="completed",
            progress=100,
            ready=True,
            queue_position=None,
            estimated_seconds_remaining=None,
            eta_seconds=None,
        ),
    )
    time, reports = FakeTime(), []

    with client(stub, time) as api:
        job = api.wait("job_1", on_progress=reports.append)

    assert job.status == "completed" and all(r.url.path == "/videos/job_1/sora-status" for r in stub.requests)
    assert time.slept == [1.0, 2.0, 4.0, 8.0, 1.0]  # doubling while the queue did not move, then the server's pace
    assert [(r.status, r.queue_position, r.eta_seconds) for r in reports][-3:] == [
        ("queued", 2, 60),
        ("in_progress", None, 20),
        ("completed", None, None),
    ]
    assert [r.elapsed_seconds for r in reports] == [0, 1, 3, 7, 15, 16] and reports[-1].cost_usd == 3.2


def test_a_wait_never_polls_sooner_than_retry_after():
    stub = status_answers(job_json(progress=1), job_json(progress=2), job_json(status="failed"), retry_after="5")
    time = FakeTime()

    with client(stub, time) as api:
        assert api.wait("job_1").status == "failed"

    assert time.slept == [5.0, 5.0]


def test_a_wait_rides_out_transient_errors():
    stub = Stub(
        httpx.Response(200, json=job_json()),
        envelope(503, "service_unavailable"),
        httpx.Response(200, json=job_json(status="cancelled")),
    )

    with client(stub, retry=RetryPolicy(max_retries=0)) as api:
        assert api.wait("job_1").status == "cancelled"


def test_a_wait_gives_up_at_its_timeout_with_the_last_job():
    stub = status_answers(job_json(status="in_progress", progress=10))
    time = FakeTime()

    with client(stub, time) as api, pytest.raises(WaitTimeout) as raised:
        api.wait("job_1", timeout=60, max_interval=15)

    assert raised.value.job is not None and raised.value.job.progress == 10
    assert sum(time.slept) == 60  # the last sleep is cut to the timeout


@pytest.mark.parametrize(
    ("final", "exit_code"),
    [("completed", EXIT_OK), ("failed", EXIT_FAILED), ("cancelled", EXIT_CANCELLED), ("reset", EXIT_RESET)],
)
def test_watch_exits_with_the_code_of_how_the_job_ended(final, exit_code, capsys):
    stub = status_answers(job_json(status=final, progress=100 if final == "completed" else 30))

    assert main(["watch", "job_1"], environ=ENV, client_options={"transport": stub.transport}) == exit_code
    assert json.loads(capsys.readouterr().out)["status"] == final


def test_watch_exits_timeout_when_the_wait_gives_up(capsys):
    stub = status_answers(job_json(status="in_progress", progress=10))
    time = FakeTime()
    options = {"transport": stub.transport, "sleep": time.sleep, "clock": time.clock}

    assert main(["watch", "job_1", "--timeout", "30"], environ=ENV, client_options=options) == EXIT_TIMEOUT
    assert json.loads(capsys.readouterr().out)["progress"] == 10


# --- downloads ----------------------------------------------------------------------------------


VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40


def download_stub(content: bytes = VIDEO) -> Stub:
    stored = {
        "content_url": "/videos/job_1/content",
        "bytes": len(VIDEO),
        "sha256": hashlib.sha256(VIDEO).hexdigest(),
        "content_type": "video/mp4",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "bucket.example.test":
            return httpx.Response(200, content=content, headers={"content-type": "video/mp4"})
        if request.url.path == "/videos/job_1/content":
            return httpx.Response(302, headers={"location": "https://bucket.example.test/v.mp4?X-Amz-Signature=s"})
        return httpx.Response(200, json=job_json(status="completed", progress=100, ready=True, video=stored))

    return Stub(answer)


def test_download_follows_the_302_without_the_token_and_checks_size_and_sha256(tmp_path):
    stub, progress = download_stub(), []

    with client(stub) as api:
        saved = api.download(
            "job_1", to=tmp_path / "out.mp4", on_progress=lambda done, total: progress.append((done, total))
        )

    presigned = next(request for request in stub.requests if request.url.host == "bucket.example.test")
    assert "authorization" not in presigned.headers
    assert all(
        r.headers["authorization"] == "Bearer token-1" for r in stub.requests if r.url.host != "bucket.example.test"
    )
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO and saved.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert progress[0] == (0, len(VIDEO)) and progress[-1] == (len(VIDEO), len(VIDEO))


def test_a_download_that_does_not_match_the_job_leaves_no_file(tmp_path, capsys):
    stub = download_stub(content=VIDEO[:-1] + b"!")

    with client(stub) as api, pytest.raises(DownloadError, match="SHA-256"):
        api.download("job_1", to=tmp_path)

    assert list(tmp_path.iterdir()) == []
    assert (
        main(["download", "job_1", "-o", str(tmp_path)], environ=ENV, client_options={"transport": stub.transport})
        == EXIT_DOWNLOAD
    )


# --- webhook signatures -------------------------------------------------------------------------


SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of thirty-two b!!").decode()
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def signed(body: str, secret: str = SECRET, at: datetime = NOW, webhook_id: str = "evt_1") -> dict[str, str]:
    """Headers as the standardwebhooks package (an independent implementation) signs them."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
    }


EVENT = json.dumps(
    {
        "id": "evt_1",
        "type": "video.completed",
        "created_at": "2026-11-21T12:00:00.000Z",
        "sequence": 3,
        "data": job_json(status="completed"),
    }
)


def test_verify_accepts_a_standard_webhooks_signature_and_returns_the_typed_event():
    event = verify_webhook(
        SECRET, EVENT.encode(), {k.title(): v for k, v in signed(EVENT).items()}, now=NOW.timestamp() + 299
    )

    assert (event.type, event.sequence, event.data.status) == ("video.completed", 3, "completed")


def test_verify_accepts_either_secret_during_a_rotation():
    two_signatures = signed(EVENT)
    two_signatures["webhook-signature"] += " " + signed(EVENT, OTHER_SECRET)["webhook-signature"]

    assert verify_webhook(OTHER_SECRET, EVENT, two_signatures, now=NOW.timestamp()).id == "evt_1"
    assert verify_webhook([SECRET, OTHER_SECRET], EVENT, signed(EVENT), now=NOW.timestamp()).id == "evt_1"


@pytest.mark.parametrize(
    ("body", "headers", "now"),
    [
        pytest.param(EVENT.replace('"sequence": 3', '"sequence": 4'), signed(EVENT), NOW, id="tampered-body"),
        pytest.param(EVENT, signed(EVENT, OTHER_SECRET), NOW, id="other-secret"),
        pytest.param(EVENT, signed(EVENT), datetime(2026, 11, 21, 12, 5, 1, tzinfo=UTC), id="stale"),
        pytest.param(EVENT, signed(EVENT), datetime(2026, 11, 21, 11, 54, 59, tzinfo=UTC), id="from-the-future"),
        pytest.param(EVENT, {**signed(EVENT), "webhook-id": "evt_2"}, NOW, id="other-id"),
        pytest.param(EVENT, {"webhook-id": "evt_1"}, NOW, id="missing-headers"),
        pytest.param(EVENT, {**signed(EVENT), "webhook-timestamp": "soon"}, NOW, id="bad-timestamp"),
        pytest.param("not json", signed("not json"), NOW, id="signed-but-not-an-event"),
    ],
)
def test_verify_refuses_what_does_not_check_out(body, headers, now):
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, body, headers, now=now.timestamp())


def test_the_progress_callback_gets_the_storing_phase():
    storing = Progress(Job.model_validate(job_json(status="in_progress", progress=100)), 1.0, 1.0)

    assert storing.storing and not Progress(Job.model_validate(job_json(progress=99)), 1.0, 1.0).storing


# --- reference images, stats, the doctor ----------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
UPLOAD = {
    "upload_id": "upl_1",
    "url": "https://bucket.example.test/",
    "fields": {"key": "uploads/owner/upl_1", "Content-Type": "image/png", "policy": "p", "x-amz-signature": "s"},
    "expires_at": "2026-11-21T12:15:00.000Z",
}


def upload_stub(storage: httpx.Response) -> Stub:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "bucket.example.test":
            return storage
        if request.url.path == "/uploads":
            return httpx.Response(201, json=UPLOAD)
        return httpx.Response(202, json=job_json(image_url=None))

    return Stub(answer)


def test_an_image_is_declared_then_posted_to_the_signed_form_without_the_token(tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    stub = upload_stub(httpx.Response(204))

    with client(stub) as api:
        upload = api.upload_image(image)

    declared, posted = stub.requests
    assert json.loads(declared.content) == {"content_type": "image/png", "bytes": len(PNG)}
    assert upload.upload_id == "upl_1" and "authorization" not in posted.headers
    form = posted.content
    # The signed fields, then the file last, as S3's POST requires.
    assert form.index(b'name="key"') < form.index(b'name="policy"') < form.index(b'name="file"; filename="cat.png"')
    assert form.endswith(PNG + b"\r\n--" + form.split(b"\r\n", 1)[0][2:] + b"--\r\n")


def test_the_tool_submits_with_an_image_it_uploads_first(tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    stub = upload_stub(httpx.Response(204))

    exit_code = main(
        ["submit", "x", "--image", str(image), "--json"], environ=ENV, client_options={"transport": stub.transport}
    )

    assert exit_code == EXIT_OK
    submitted = next(request for request in stub.requests if request.url.path == "/videos")
    assert json.loads(submitted.content)["image_upload_id"] == "upl_1"


def test_an_upload_the_storage_refuses_is_an_upload_error_with_its_reason(tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    refusal = "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum</Message></Error>"
    stub = upload_stub(httpx.Response(400, text=refusal))

    exit_code = main(["upload", str(image), "--json"], environ=ENV, client_options={"transport": stub.transport})

    out, err = capsys.readouterr()
    assert exit_code == EXIT_UPLOAD
    assert json.loads(out)["error"]["code"] == "upload_failed"
    assert "EntityTooLarge: Your proposed upload exceeds the maximum" in err


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [("cat.gif", b"GIF89a", "not a PNG, JPEG or WebP"), ("none.png", None, "Cannot read")],
)
def test_an_image_that_is_not_one_is_refused_before_any_request(tmp_path, capsys, name, content, reason):
    image = tmp_path / name
    if content is not None:
        image.write_bytes(content)
    stub = upload_stub(httpx.Response(204))

    exit_code = main(["upload", str(image)], environ=ENV, client_options={"transport": stub.transport})

    assert exit_code == EXIT_UPLOAD and stub.requests == []
    assert reason in capsys.readouterr().err


def test_the_doctor_exits_1_when_a_check_failed_and_shows_each_check(capsys):
    checks = [
        {"provider": "fal", "check": "key", "ok": True, "message": "a key is configured"},
        {"provider": "fal", "check": "access", "ok": False, "message": "fal refused the key: set FalKey"},
    ]
    stub = Stub(httpx.Response(200, json={"ok": False, "checks": checks}))

    exit_code = main(["doctor", "--json"], environ=ENV, client_options={"transport": stub.transport})

    assert exit_code == EXIT_FAILED and json.loads(capsys.readouterr().out)["checks"] == checks
    assert stub.requests[0].url.path == "/doctor"


def test_the_doctor_outside_the_admin_group_is_a_permission_error_not_a_refused_token(capsys):
    stub = Stub(envelope(403, "forbidden"))

    exit_code = main(["doctor"], environ=ENV, client_options={"transport": stub.transport})

    assert exit_code == EXIT_API_ERROR and "[forbidden, HTTP 403" in capsys.readouterr().err
    with client(stub) as api, pytest.raises(PermissionDeniedError):
        api.doctor()
