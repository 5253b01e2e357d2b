"""Shared test harness: moto (in-process) as AWS, the local emulator as the provider, fixed clocks.

Handlers are invoked exactly as Lambda would, with the files in events/ as the starting point.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import httpx
import httpx2  # the openai SDK's HTTP library
import pytest
from moto import mock_aws
from pydantic import SecretStr

from local.backend_clock import ManualClock
from local.emulator import EmulatorConfig, EmulatorServer
from local.emulator import ManualClock as EmulatorClock
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
from local.moto_dynamodb import keep_streams_through_cancelled_transactions
from local.resources import StackResources, create_stack_resources
from local.runway_emulator import EmulatorConfig as RunwayEmulatorConfig
from local.runway_emulator import EmulatorServer as RunwayEmulatorServer
from local.serialized_boto3 import SerializedSession
from sorajobs.config import Settings
from sorajobs.providers.fal_queue import build_fal_provider
from sorajobs.providers.openai_videos import build_openai_provider
from sorajobs.providers.runway_tasks import build_runway_provider
from sorajobs.services import Services
from sorajobs.wiring import Wiring
from tests.chaos.crash import CrashingServices, CrashPlan
from tests.chaos.turns import SwitchingProxy, TurnScheduler, inline_pool
from tests.handlers import install_wiring, load_handler
from tests.late_answers import LateAnswersLost
from tests.provider_emulators import FAL_KEY, RUNWAY_KEY, Delivery, WebhookInbox

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"
# A default job's first look (the sweep's predicted schedule, before anything finished: when 2 % of sora-2's
# typical 90 s, widely spread, would have passed, about 32 s) is due by then.
FIRST_LOOK_DUE_SECONDS = 40
OWNER = "user-123"
OTHER_OWNER = "user-456"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
API_KEY = "sk-test-emulator"

# The tests that follow the jobs table's stream keep one shard iterator, as the event source does; moto
# would strand it at the first cancelled transaction (local.moto_dynamodb).
keep_streams_through_cancelled_transactions()

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "sora-jobs-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "SoraJobsTests",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        "AWS_LAMBDA_FUNCTION_NAME": "sora-jobs-tests",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)


def _no_switch() -> None:
    return None


@dataclass
class LambdaContext:
    """The parts of the Lambda context the handlers use; remaining time comes from a callable."""

    function_name: str = "sora-jobs-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sora-jobs-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    remaining_seconds: Any = field(default=lambda: 60.0)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds() * 1000)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def http_event(
    name: str,
    *,
    job_id: str | None = None,
    body: Any = None,
    raw_body: str | None = None,
    owner: str | None = OWNER,
    headers: dict[str, str | None] | None = None,
    query: dict[str, str] | None = None,
    groups: str | None = None,
) -> dict[str, Any]:
    """An events/<name>.json HTTP API v2 event, adjusted for one test."""
    event = copy.deepcopy(load_event(name))
    if job_id is not None:
        template_id = event["pathParameters"]["id"]
        for key in ("rawPath",):
            event[key] = event[key].replace(template_id, job_id)
        event["requestContext"]["http"]["path"] = event["rawPath"]
        event["pathParameters"]["id"] = job_id
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    if owner is None:
        event["requestContext"].pop("authorizer", None)
    elif "authorizer" in event["requestContext"]:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = owner
    if groups is not None:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = groups
    for key, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(key, None)
        else:
            event["headers"][key] = value
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in query.items())
    return event


def fal_webhook_event(delivery: Delivery) -> dict[str, Any]:
    """POST /provider-webhooks/fal carrying one delivery as fal sent it: its body, headers and query."""
    event = http_event("fal_webhook", raw_body=delivery.body.decode(), owner=None, headers=dict(delivery.headers))
    event["queryStringParameters"] = dict(delivery.query)
    event["rawQueryString"] = urlencode(delivery.query)
    return event


def sqs_event(name: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The events/<name>.json SQS event, carrying these received messages, as the event source sends them."""
    event = copy.deepcopy(load_event(name))
    template = event["Records"][0]
    event["Records"] = [
        {**template, "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
        for m in messages
    ]
    return event


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any


PUBLIC_ADDRESS = "93.184.216.34"


class FakeDns:
    """The fake DNS, injected as ``resolve_host`` and used by the receivers' network: host names it knows,
    any other resolves to a public address. A host given several answers gets the next one per lookup,
    then keeps the last (DNS rebinding)."""

    def __init__(self) -> None:
        self._answers: dict[str, list[list[str]]] = {}

    def __setitem__(self, host: str, addresses: list[str]) -> None:
        self._answers[host] = [addresses]

    def answer_in_turn(self, host: str, *answers: list[str]) -> None:
        self._answers[host] = list(answers)

    def __call__(self, host: str) -> list[str]:
        answers = self._answers.get(host)
        if not answers:
            return [PUBLIC_ADDRESS]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@dataclass
class ReceivedWebhook:
    url: str  # as the request addresses it: its Host header and path
    connected_to: str  # the IP address the connection went to
    sni_hostname: str | None  # the name TLS would send and check the certificate for, when not the URL's host
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceivers:
    """Client webhook endpoints, behind an httpx mock transport: they record every request and
    answer from a script per URL (200 when the script is used up). A request to a host name connects
    where ``resolve`` answers at that moment, as a real connection would."""

    def __init__(self, resolve: Callable[[str], list[str]]) -> None:
        self.received: list[ReceivedWebhook] = []
        self._scripts: dict[str, list[httpx.Response | Exception]] = {}
        self._resolve = resolve

    def script(self, url: str, *answers: int | httpx.Response | Exception) -> None:
        self._scripts[url] = [httpx.Response(a) if isinstance(a, int) else a for a in answers]

    def _connected_to(self, host: str) -> str:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            return self._resolve(host)[0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = f"{request.url.scheme}://{request.headers['host']}{request.url.raw_path.decode('ascii')}"
        self.received.append(
            ReceivedWebhook(
                url=url,
                connected_to=self._connected_to(request.url.host),
                sni_hostname=request.extensions.get("sni_hostname"),
                headers=dict(request.headers),
                body=request.content,
            )
        )
        script = self._scripts.get(url)
        if script:
            answer = script.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return httpx.Response(200)

    def at(self, url: str) -> list[ReceivedWebhook]:
        return [hook for hook in self.received if hook.url == url]


class World:
    """One test's whole system: AWS (moto), the provider emulator and the clocks of both."""

    def __init__(
        self,
        session: Any,
        resources: StackResources,
        emulator: EmulatorServer,
        emulator_clock: EmulatorClock,
        *,
        seed: int = 20261121,
        turns: TurnScheduler | None = None,
    ) -> None:
        self.session = session
        # With `turns`, concurrent invocations interleave in the order the seed draws (tests/chaos/turns.py):
        # each AWS and provider call is a switch point, and the sweep's workers run in turns.
        self.turns = turns
        switch = turns.switch if turns is not None else _no_switch
        # One lock for every client, the handlers' and the test's own: in-process moto is not thread-safe.
        self.aws = SerializedSession(session, before_call=switch)
        self._http_api_turn: AbstractContextManager[Any] = turns.lock() if turns is not None else threading.Lock()
        self._switch = switch
        self._seed = seed
        self._ids = random.Random(seed)
        self.resources = resources
        self.emulator = emulator
        self.emulator_clock = emulator_clock
        self.clock = ManualClock(START)
        self.settings = resources.settings(
            openai_base_url=emulator.base_url,  # what the openai provider below is built with
            sweep_concurrency=4,
            sweep_mode="one-shot",  # tests that exercise the continuous sweep opt in
            webhook_max_queue_delay_seconds=0,  # the tests' clock is manual: early messages come straight back
            secret_cache_seconds=0,
        )
        # The fal and Runway emulators, for tests that attach them (`provider_world`).
        self.fal: FalEmulatorServer | None = None
        self.fal_inbox: WebhookInbox | None = None
        self.runway: RunwayEmulatorServer | None = None
        # The key the backend sends Runway (a test of a refused key changes it).
        self.runway_key = RUNWAY_KEY
        self.dns = FakeDns()
        self.receivers = WebhookReceivers(self.dns)
        # Real seconds the provider client waits for an answer (tests of lost answers shorten it).
        self.provider_timeout_seconds = 5.0
        # Whether the provider clients take an emulator's late answer (a `timeout` fault) as lost at once,
        # instead of waiting for their timeout in real time (the chaos run's choice: tests/late_answers.py).
        self.late_answers_lost_at_once = False
        # Step boundaries where an invocation can be killed; none dies unless a test asks for it.
        self.crashes = CrashPlan(seed=seed)
        self._stream_iterator: str | None = None
        self.services = self.make_services(self.settings)
        self.wiring = Wiring(self.services)
        install_wiring(self.wiring)
        self.dynamodb = self.aws.client("dynamodb")
        self.s3 = self.aws.client("s3")
        self.sqs = self.aws.client("sqs")

    def make_services(self, settings: Settings) -> Services:
        def switching(built: Any) -> Any:
            return built if self.turns is None else SwitchingProxy(built, self._switch)

        def openai() -> Any:
            return switching(
                build_openai_provider(
                    api_key=API_KEY,
                    base_url=self.emulator.base_url,
                    timeout_seconds=self.provider_timeout_seconds,
                    max_retries=0,
                    clock=self.clock,
                    transport=LateAnswersLost(httpx2) if self.late_answers_lost_at_once else None,
                )
            )

        def fal() -> Any:
            return switching(
                build_fal_provider(
                    api_key=FAL_KEY,
                    queue_url=self.fal.base_url,
                    timeout_seconds=self.provider_timeout_seconds,
                    max_retries=0,
                    clock=self.clock,
                    transport=LateAnswersLost() if self.late_answers_lost_at_once else None,
                )
            )

        def runway() -> Any:
            return switching(
                build_runway_provider(
                    api_key=self.runway_key,
                    base_url=self.runway.base_url,
                    timeout_seconds=self.provider_timeout_seconds,
                    max_retries=0,
                    clock=self.clock,
                    transport=LateAnswersLost() if self.late_answers_lost_at_once else None,
                )
            )

        providers: dict[str, Any] = {"openai": openai}
        if self.fal is not None:
            providers["fal"] = fal
        if self.runway is not None:
            providers["runway"] = runway

        return CrashingServices(
            settings,
            crashes=self.crashes,
            clock=self.clock,
            new_id=self.new_job_id,
            providers=providers,
            boto3_session=self.aws,
            sleep=self.advance,
            random_source=random.Random(self._seed),
            webhook_http=httpx.Client(transport=httpx.MockTransport(self.receivers.handle)),
            resolve_host=self.dns,
            **({} if self.turns is None else {"worker_pool": inline_pool}),
        )

    def attach_fal(self, fal: FalEmulatorServer, inbox: WebhookInbox) -> None:
        """Enables fal, reached at the emulator, with its webhooks going to `inbox`."""
        self.fal, self.fal_inbox = fal, inbox
        providers = tuple(dict.fromkeys((*self.settings.enabled_providers, "fal")))
        self.use_settings(
            enabled_providers=providers,
            fal_key=SecretStr(FAL_KEY),
            fal_queue_url=fal.base_url,
            fal_jwks_url=fal.jwks_url,
            fal_webhook_url=inbox.url,
        )

    def attach_runway(self, runway: RunwayEmulatorServer) -> None:
        """Enables Runway, reached at the emulator through the runwayml SDK."""
        self.runway = runway
        providers = tuple(dict.fromkeys((*self.settings.enabled_providers, "runway")))
        self.use_settings(
            enabled_providers=providers, runwayml_api_secret=SecretStr(RUNWAY_KEY), runway_base_url=runway.base_url
        )

    def deliver_fal_webhooks(self) -> list[ApiResponse]:
        """Hands every webhook the fal emulator has sent so far to POST /provider-webhooks/fal, as sent."""
        assert self.fal is not None and self.fal_inbox is not None
        self.fal.flush_webhooks()
        return [self.post_fal_webhook(delivery) for delivery in self.fal_inbox.take()]

    def post_fal_webhook(self, delivery: Delivery) -> ApiResponse:
        return self.call("provider_webhook", fal_webhook_event(delivery))

    def new_job_id(self) -> str:
        """Job ids drawn from the seed: the table's order, and so the sweep's, repeats from run to run."""
        return f"job_{self._ids.getrandbits(96):024x}"

    def use_settings(self, **changes: Any) -> None:
        """The settings with these changes, validated as Settings.from_env would validate them."""
        self.settings = Settings.model_validate({**self.settings.model_dump(), **changes})
        self.services = self.make_services(self.settings)
        self.wiring = Wiring(self.services)
        install_wiring(self.wiring)

    def advance(self, seconds: float) -> None:
        """Moves the backend's and the provider's time together."""
        self.clock.advance(seconds)
        self.emulator_clock.advance(seconds)

    # --- invoking handlers --------------------------------------------------------------------

    def call(self, function_dir: str, event: dict[str, Any]) -> ApiResponse:
        """Invokes an HTTP API function. Calls from several threads take turns, as in local/lambda_runtime.py:
        Powertools' resolvers share the current event within a process."""
        with self._http_api_turn:
            raw = load_handler(function_dir).lambda_handler(event, LambdaContext())
        headers = {key.lower(): value for key, value in (raw.get("headers") or {}).items()}
        for key, values in (raw.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = values[-1]
        body = raw.get("body")
        parsed = json.loads(body) if body and headers.get("content-type", "").startswith("application/json") else body
        return ApiResponse(status=raw["statusCode"], headers=headers, body=parsed)

    def submit(self, owner: str = OWNER, **body: Any) -> ApiResponse:
        payload = {"prompt": "A paper boat drifting down a rainy street", **body}
        return self.call("submit", http_event("submit", body=payload, owner=owner, headers={"idempotency-key": None}))

    def sora_status(self, job_id: str, owner: str = OWNER) -> ApiResponse:
        return self.call("sora_status", http_event("sora_status", job_id=job_id, owner=owner))

    def get_job(self, job_id: str, owner: str = OWNER) -> ApiResponse:
        return self.call("read_api", http_event("read_api_get", job_id=job_id, owner=owner))

    def sweep(self, remaining_seconds: Any = None, timeout_seconds: float = 70.0) -> dict[str, Any]:
        """Runs the sweep handler; its remaining time follows the test's clock (the function's Timeout)."""
        if remaining_seconds is None:
            deadline = self.clock.now() + timedelta(seconds=timeout_seconds)

            def remaining_seconds() -> float:
                return (deadline - self.clock.now()).total_seconds()

        handler = load_handler("poll_sora_status")
        result: dict[str, Any] = handler.lambda_handler(
            load_event("poll_sora_status"), LambdaContext(remaining_seconds=remaining_seconds)
        )
        return result

    def drain_store_queue(self) -> list[dict[str, Any]]:
        """Runs the store-video handler on whatever the queue holds, as the SQS event source would."""
        results = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=self.resources.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            )
            messages = received.get("Messages", [])
            if not messages:
                return results
            result = load_handler("store_video").lambda_handler(sqs_event("store_video", messages), LambdaContext())
            failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
            results.append(result)
            if failed:
                return results

    def drain_stream(self) -> list[dict[str, Any]]:
        """Runs the webhook-events handler on the table's new stream records, as the event source would."""
        streams = self.session.client("dynamodbstreams")
        if self._stream_iterator is None:
            arn = self.dynamodb.describe_table(TableName=self.resources.table_name)["Table"]["LatestStreamArn"]
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._stream_iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        response = streams.get_records(ShardIterator=self._stream_iterator)
        self._stream_iterator = response["NextShardIterator"]
        records = response["Records"]
        if not records:
            return []
        result = load_handler("webhook_events").lambda_handler({"Records": records}, LambdaContext())
        assert result == {"batchItemFailures": []}, result
        return records

    def deliver_webhooks(self) -> int:
        """Runs the stream, then the delivery worker on every queued attempt that is due by the test's
        clock, until none is left; attempts that are not due yet stay queued. Returns how many ran."""
        ran = 0
        while True:
            self.drain_stream()
            due, early = [], []
            while received := self.sqs.receive_message(
                QueueUrl=self.resources.webhook_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
            ).get("Messages", []):
                for message in received:
                    not_before = datetime.fromisoformat(json.loads(message["Body"])["not_before"])
                    (due if not_before <= self.clock.now() else early).append(message)
            for message in early:
                self.sqs.change_message_visibility(
                    QueueUrl=self.resources.webhook_queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            if not due:
                return ran
            event = sqs_event("deliver_webhook", due)
            result = load_handler("deliver_webhook").lambda_handler(event, LambdaContext())
            assert result == {"batchItemFailures": []}, result
            for message in due:
                self.sqs.delete_message(
                    QueueUrl=self.resources.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            ran += len(due)

    def dead_letters(self) -> list[dict[str, Any]]:
        received = self.sqs.receive_message(
            QueueUrl=self.resources.webhook_dead_letter_queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        return [json.loads(message["Body"]) for message in received]

    # --- inspecting state ---------------------------------------------------------------------

    def table_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.resources.table_name)["Items"]

    def stored_job(self, job_id: str) -> Any:
        return self.services.jobs.get(job_id)

    def queued_messages(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def bucket_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.resources.bucket_name)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture
def emulator_clock() -> EmulatorClock:
    return EmulatorClock(start=START.timestamp())


@pytest.fixture
def emulator(emulator_clock: EmulatorClock) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(api_key=API_KEY, queue_seconds=5.0, render_seconds=60.0)
    with EmulatorServer(config, clock=emulator_clock) as server:
        yield server


@pytest.fixture
def world(emulator: EmulatorServer, emulator_clock: EmulatorClock) -> Iterator[World]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        resources = create_stack_resources(session, openai_api_key=API_KEY)
        yield World(session, resources, emulator, emulator_clock)
    install_wiring(None)


@pytest.fixture
def fal_emulator(emulator_clock: EmulatorClock) -> Iterator[FalEmulatorServer]:
    config = FalEmulatorConfig(
        api_key=FAL_KEY, concurrency=2, queue_seconds=2.0, processing_seconds=30.0, webhook_timestamps_from_clock=True
    )
    with FalEmulatorServer(config, clock=emulator_clock) as server:
        yield server


@pytest.fixture
def fal_world(world: World, fal_emulator: FalEmulatorServer) -> Iterator[World]:
    """The world with fal enabled beside the OpenAI-compatible gateway, its webhooks caught for the test."""
    inbox = WebhookInbox()
    world.attach_fal(fal_emulator, inbox)
    yield world
    inbox.stop()


@pytest.fixture
def runway_emulator(emulator_clock: EmulatorClock) -> Iterator[RunwayEmulatorServer]:
    config = RunwayEmulatorConfig(api_key=RUNWAY_KEY, pending_seconds=2.0, running_seconds=20.0)
    with RunwayEmulatorServer(config, clock=emulator_clock) as server:
        yield server


@pytest.fixture
def runway_world(world: World, runway_emulator: RunwayEmulatorServer) -> World:
    """The world with Runway enabled beside the OpenAI-compatible gateway."""
    world.attach_runway(runway_emulator)
    return world


def assert_error(response: ApiResponse, status: int, code: str) -> None:
    """The response is the API's one error shape with this status and code."""
    assert response.status == status, response.body
    assert set(response.body) == {"error"}
    error = response.body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)


def provider_calls(world: World, method: str, path_fragment: str = "") -> int:
    return sum(
        1
        for call_method, path, _status in world.emulator.request_log
        if call_method == method and path_fragment in path and not path.startswith("/_emulator")
    )
