"""Outbound webhooks: every status change of a job reaches the client's endpoints, signed, in order,
retried on the schedule, and listed in the delivery log."""

from __future__ import annotations

import itertools
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from sorajobs.logic.delivery import RETRY_DELAYS_SECONDS, delivery_request
from sorajobs.logic.lifecycle import transition_to_failed
from sorajobs.models.job import Job, JobError
from tests.conftest import OTHER_OWNER, PUBLIC_ADDRESS, ReceivedWebhook, World, assert_error, http_event
from tests.webhook_receiver import Receiver

HOOK = "https://hooks.example.com/sora"
DEPLOYMENT_HOOK = "https://ops.example.com/all-jobs"


def _failed(job: Job, now: datetime) -> Job:
    """The job as a write that failed it would leave it (the write alone, without the function around it)."""
    return transition_to_failed(job, JobError(code="generation_failed", message="No."), now).job


def assert_signed(secret: str, hook: ReceivedWebhook) -> None:
    """The delivery's signature, checked with the standardwebhooks package (a verifier we did not write)."""
    timestamp = datetime.fromtimestamp(int(hook.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(hook.headers["webhook-id"], timestamp, hook.body.decode())
    assert expected in hook.headers["webhook-signature"].split(" ")


def run_to_completion(world: World, job_id: str) -> None:
    for _ in range(40):
        world.advance(5)
        world.sweep()
        world.drain_store_queue()
        world.deliver_webhooks()
        if world.stored_job(job_id).status == "completed":
            return
    raise AssertionError("the job did not complete")


def test_each_status_change_reaches_the_job_endpoint_signed_and_in_sequence(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    run_to_completion(world, job_id)

    hooks = world.receivers.at(HOOK)
    events = [hook.json() for hook in hooks]
    types = [event["type"] for event in events]
    assert types[0] == "video.queued"
    assert "video.in_progress" in types and "video.progress" in types
    assert types[-1] == "video.completed"
    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))
    assert all(event["data"]["id"] == job_id for event in events)
    assert events[-1]["data"]["ready"] is True and events[-1]["data"]["video"]["sha256"]
    for hook, event in zip(hooks, events, strict=True):
        assert hook.headers["webhook-id"] == event["id"]
        assert hook.headers["content-type"] == "application/json"
        assert_signed(world.resources.webhook_signing_secret, hook)


def test_progress_events_are_throttled_to_one_per_10_seconds_or_10_points(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    run_to_completion(world, job_id)

    progress = [hook.json() for hook in world.receivers.at(HOOK) if hook.json()["type"] == "video.progress"]
    for earlier, later in itertools.pairwise(progress):
        seconds = (
            datetime.fromisoformat(later["created_at"]) - datetime.fromisoformat(earlier["created_at"])
        ).total_seconds()
        assert seconds >= 10 or later["data"]["progress"] - earlier["data"]["progress"] >= 10


def test_the_deployment_wide_url_gets_every_jobs_events(world):
    world.use_settings(webhook_url=DEPLOYMENT_HOOK)
    first = world.submit().body["id"]
    second = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()

    assert {hook.json()["data"]["id"] for hook in world.receivers.at(DEPLOYMENT_HOOK)} == {first, second}
    assert {hook.json()["data"]["id"] for hook in world.receivers.at(HOOK)} == {second}


def test_no_destination_means_nothing_is_queued(world):
    world.submit()
    assert world.deliver_webhooks() == 0
    assert world.receivers.received == []


def test_a_write_whose_handler_died_right_after_it_is_still_delivered(world):
    # The job write alone (as if the function crashed right after it): the stream carries the event out.
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    job = world.stored_job(job_id)
    world.services.jobs.save_transition(job, _failed(job, world.clock.now()))

    world.deliver_webhooks()

    assert world.receivers.at(HOOK)[-1].json()["type"] == "video.failed"


def test_a_stream_record_handled_twice_is_delivered_once(world):
    world.submit(webhook_url=HOOK)
    records = world.drain_stream()
    from tests.conftest import LambdaContext, load_handler

    load_handler("webhook_events").lambda_handler({"Records": records}, LambdaContext())
    world.deliver_webhooks()

    assert len(world.receivers.at(HOOK)) == 1


def test_a_receiver_that_fails_twice_then_succeeds_gets_one_webhook_id(world):
    world.receivers.script(HOOK, 500, httpx.ConnectError("connection refused"))
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    world.advance(5)
    world.deliver_webhooks()
    assert len(world.receivers.at(HOOK)) == 2  # the third attempt waits its 5 minutes
    world.advance(300)
    world.deliver_webhooks()

    hooks = [hook for hook in world.receivers.at(HOOK) if hook.json()["type"] == "video.queued"]
    assert len(hooks) == 3
    assert len({hook.headers["webhook-id"] for hook in hooks}) == 1
    assert len({hook.body for hook in hooks}) == 1
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    queued = next(entry for entry in log if entry["type"] == "video.queued")
    assert queued["state"] == "delivered"
    assert [attempt["status_code"] for attempt in queued["attempts"]] == [500, None, 200]
    assert "ConnectError" in queued["attempts"][1]["error"]


def test_a_receiver_that_always_fails_ends_in_the_dead_letter_queue_after_the_whole_schedule(world, caplog):
    world.receivers.script(HOOK, *([503] * 20))
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    for delay in RETRY_DELAYS_SECONDS:
        world.advance(delay - 1)
        world.deliver_webhooks()
        sent = len(world.receivers.at(HOOK))
        world.advance(1)
        world.deliver_webhooks()
        assert len(world.receivers.at(HOOK)) == sent + 1, "each retry waits exactly its delay"

    assert len(world.receivers.at(HOOK)) == 8
    dead = world.dead_letters()
    assert len(dead) == 1 and dead[0]["job_id"] == job_id
    assert len(dead[0]["attempts"]) == 8
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert log[0]["state"] == "exhausted"
    gaps = [
        (datetime.fromisoformat(b["at"]) - datetime.fromisoformat(a["at"])).total_seconds()
        for a, b in zip(log[0]["attempts"], log[0]["attempts"][1:], strict=False)
    ]
    assert gaps == list(RETRY_DELAYS_SECONDS)
    exhausted = [record for record in caplog.records if "exhausted its retry schedule" in record.getMessage()]
    assert len(exhausted) == 1 and exhausted[0].levelname == "ERROR"


def test_retry_after_on_429_is_honoured(world):
    world.receivers.script(HOOK, httpx.Response(429, headers={"Retry-After": "600"}))
    world.submit(webhook_url=HOOK)
    world.deliver_webhooks()
    world.advance(599)
    world.deliver_webhooks()
    assert len(world.receivers.at(HOOK)) == 1
    world.advance(1)
    world.deliver_webhooks()
    assert len(world.receivers.at(HOOK)) == 2


def test_a_410_disables_the_endpoint(world):
    world.receivers.script(HOOK, 410)
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    job = world.stored_job(job_id)
    world.services.jobs.save_transition(job, _failed(job, world.clock.now()))
    world.advance(3600)
    world.deliver_webhooks()

    assert len(world.receivers.at(HOOK)) == 1
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert {entry["state"] for entry in log} == {"endpoint_disabled"}
    assert world.dead_letters() == []


def test_a_host_that_turns_private_after_submit_is_not_sent_to(world):
    world.dns["hooks.example.com"] = ["93.184.216.34"]
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.dns["hooks.example.com"] = ["10.0.0.7"]  # DNS rebinding
    world.deliver_webhooks()

    assert world.receivers.received == []
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert "private" in log[0]["attempts"][0]["error"]


def test_delivery_connects_to_the_address_it_checked_not_to_what_dns_answers_next(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    # The delivery's check gets a public address; a lookup at connect time would get a private one.
    world.dns.answer_in_turn("hooks.example.com", [PUBLIC_ADDRESS], ["10.0.0.5"])
    world.deliver_webhooks()

    [hook] = world.receivers.at(HOOK)
    assert hook.connected_to == PUBLIC_ADDRESS
    assert hook.headers["host"] == "hooks.example.com"
    assert hook.sni_hostname == "hooks.example.com"
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert log[0]["state"] == "delivered"


def tls_contexts(host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for ``host`` only, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cadata=pem.decode())


def test_a_pinned_delivery_sends_the_host_name_as_sni_and_verifies_the_certificate_for_it():
    # A real TLS connection through httpx and httpcore: the URL names a host that does not resolve, the
    # request connects to the checked address (127.0.0.1), whose certificate is valid for that name only.
    server_tls, client_tls = tls_contexts("hooks.example.test")
    names_asked: list[str | None] = []
    server_tls.sni_callback = lambda _socket, name, _context: names_asked.append(name)
    receiver = Receiver(tls=server_tls)
    url = f"https://hooks.example.test:{receiver.port}/sora?x=1"
    try:
        with httpx.Client(verify=client_tls, timeout=5) as client:
            request = delivery_request(client, url, content=b"{}", headers={}, connect_to="127.0.0.1")
            response = client.send(request)
    finally:
        receiver.stop()

    assert response.status_code == 204
    assert names_asked == ["hooks.example.test"]
    [(headers, _body)] = receiver.requests
    assert headers["host"] == f"hooks.example.test:{receiver.port}"


def test_both_secrets_sign_during_a_rotation(world):
    from local.resources import new_whsec

    newer = new_whsec()
    secrets = world.session.client("secretsmanager")
    name = world.settings.webhook_signing_secret_name
    secrets.put_secret_value(SecretId=name, SecretString=f"{newer} {world.resources.webhook_signing_secret}")
    world.submit(webhook_url=HOOK)
    world.deliver_webhooks()

    hook = world.receivers.at(HOOK)[0]
    assert len(hook.headers["webhook-signature"].split(" ")) == 2
    assert_signed(newer, hook)
    assert_signed(world.resources.webhook_signing_secret, hook)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://localhost/",
        "https://internal-hooks.example.com/",
        "https://hooks.example.com:0/",
        "https://user:secret@hooks.example.com/",
        "http://hooks.example.com/",
    ],
)
def test_a_refused_webhook_url_gets_422_and_writes_nothing(world, url):
    world.dns["internal-hooks.example.com"] = ["10.20.30.40"]
    response = world.submit(webhook_url=url)

    assert_error(response, 422, "webhook_url_not_allowed")
    assert world.table_items() == []


def test_local_mode_allows_http_to_127_0_0_1(world):
    world.use_settings(webhook_allow_local_http=True)
    response = world.submit(webhook_url="http://127.0.0.1:8099/hooks")
    world.deliver_webhooks()

    assert response.status == 202
    assert world.receivers.at("http://127.0.0.1:8099/hooks")


def test_replay_resends_the_latest_event_with_the_same_webhook_id(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    original = world.receivers.at(HOOK)[-1]

    response = world.call("webhooks_api", http_event("webhooks_api_replay", job_id=job_id, raw_body=""))
    world.deliver_webhooks()

    assert response.status == 202
    assert response.body["event_id"] == original.headers["webhook-id"]
    replayed = world.receivers.at(HOOK)[-1]
    assert replayed.headers["webhook-id"] == original.headers["webhook-id"]
    assert replayed.body == original.body
    log = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id)).body["data"]
    assert log[0]["replays"] == 1 and len(log[0]["attempts"]) == 2


def test_replay_of_a_named_event_and_of_unknown_ones(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()
    first = world.receivers.at(HOOK)[0].headers["webhook-id"]

    named = world.call("webhooks_api", http_event("webhooks_api_replay", job_id=job_id, body={"event_id": first}))
    unknown = world.call(
        "webhooks_api", http_event("webhooks_api_replay", job_id=job_id, body={"event_id": "evt_" + "f" * 32})
    )
    malformed = world.call("webhooks_api", http_event("webhooks_api_replay", job_id=job_id, body={"event_id": "x"}))
    foreign = world.call("webhooks_api", http_event("webhooks_api_replay", job_id=job_id, owner=OTHER_OWNER))

    assert named.status == 202 and named.body["event_id"] == first
    assert_error(unknown, 404, "not_found")
    assert_error(malformed, 422, "validation_error")
    assert_error(foreign, 404, "not_found")


def test_another_owner_cannot_read_the_delivery_log(world):
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.deliver_webhooks()

    response = world.call("webhooks_api", http_event("webhooks_api_list", job_id=job_id, owner=OTHER_OWNER))

    assert_error(response, 404, "not_found")
