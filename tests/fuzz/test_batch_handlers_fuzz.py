"""hypothesis-made malformed events for the handlers that no HTTP request reaches.

- The sweep (EventBridge Scheduler): its event carries nothing the sweep needs, so any event, however
  broken, must run the sweep as usual: no error, and the job that is due gets polled.
- The SQS handlers (store-video, webhook delivery): a batch mixes real messages with broken ones
  (invalid JSON, JSON of the wrong shape, missing fields, wrong types, huge strings, stale ids, junk
  receipt handles). Every real message is processed (its video stored, its webhook delivered once) and
  never reported as failed; only broken ones are; and a body that is not a message at all is always
  reported, so SQS retries it and then parks it in the dead-letter queue instead of it vanishing.
- The stream handler (webhook events): real stream records mixed with malformed ones. The real ones
  queue exactly their deliveries; only malformed ones are reported (by sequence number), and a job
  image that cannot be read always is, so the event source retries it and then hands it to the
  dead-letter queue.

Each test builds its real messages inside the example, on the test's one World (moto and the emulator).
`FUZZ_EXAMPLES` sets the examples per test (default 20; each one runs a job through moto and the emulator).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from sorajobs.logic.delivery import LONGEST_WAIT
from sorajobs.logic.lifecycle.events import produced_event
from sorajobs.logic.outbox import is_job_change, job_change
from sorajobs.models.job import JobStatus
from sorajobs.models.messages import StoreVideoMessage
from sorajobs.models.webhooks import WebhookDeliveryMessage
from tests.conftest import LambdaContext, World, load_event, load_handler, sqs_event

HOOK = "https://hooks.example.com/sora"
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
BATCH_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Examples are slow (a job through moto and the emulator each): report the failing one as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    # One World per test; each example makes its own real messages in it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HUGE_STRINGS = st.integers(3_000, 200_000).map(lambda size: "x" * size)  # SQS allows 256 KiB bodies
WRONG_TYPES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.lists(st.integers(), max_size=2)
    | HUGE_STRINGS
)


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def broken_bodies(valid: dict[str, Any], other_values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str]:
    """Bodies that are not `valid`'s message: junk text, other JSON, fields missing, mistyped or huge, and
    well-typed messages with other values (`other_values`: stale ids, other attempts, odd times)."""
    fields = sorted(valid)

    def without(keys: set[str]) -> str:
        return json.dumps({key: value for key, value in valid.items() if key not in keys})

    def with_values(changes: dict[str, Any]) -> str:
        return json.dumps({**valid, **changes})

    return st.one_of(
        st.text(max_size=40).filter(_not_json),
        st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")).filter(_not_json),
        JSON_VALUES.filter(lambda value: not isinstance(value, dict)).map(json.dumps),
        st.sets(st.sampled_from(fields), min_size=1).map(without),
        st.dictionaries(st.sampled_from(fields), WRONG_TYPES, min_size=1).map(with_values),
        st.fixed_dictionaries({}, optional=other_values).filter(bool).map(with_values),
    )


def parses_as(model: type[BaseModel], body: str) -> bool:
    try:
        model.model_validate_json(body)
    except ValidationError:
        return False
    return True


@st.composite
def mixed_batches(draw: st.DrawFn, valid_bodies: list[str], broken: st.SearchStrategy[str]) -> list[dict[str, str]]:
    """An SQS batch (at most 10) of the valid bodies and broken ones, in any order, with junk receipt handles."""
    bodies = [("valid", body) for body in valid_bodies]
    bodies += [("broken", body) for body in draw(st.lists(broken, min_size=1, max_size=10 - len(valid_bodies)))]
    order = draw(st.permutations(range(len(bodies))))
    return [
        {
            "MessageId": f"{bodies[n][0]}-{n}",
            "ReceiptHandle": draw(st.text(max_size=30)),
            "Body": bodies[n][1],
        }
        for n in order
    ]


def failed_ids(result: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in result["batchItemFailures"]}


def assert_only_broken_messages_fail(
    messages: list[dict[str, str]], result: dict[str, Any], is_message: Callable[[str], bool]
) -> None:
    failed = failed_ids(result)
    broken = {m["MessageId"] for m in messages if m["MessageId"].startswith("broken")}
    assert failed <= broken, f"a valid message failed with its batch: {failed - broken}"
    for message in messages:
        if message["MessageId"] in broken and not is_message(message["Body"]):
            assert message["MessageId"] in failed, f"a broken message vanished: {message['Body'][:200]!r}"


def empty_queue(world: World, queue_url: str) -> list[dict[str, Any]]:
    """Receives and deletes whatever the queue holds."""
    taken: list[dict[str, Any]] = []
    while received := world.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in received:
            world.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        taken += received
    return taken


# --- the sweep ------------------------------------------------------------------------------------


@st.composite
def scheduler_events(draw: st.DrawFn) -> Any:
    """Anything from junk JSON to the scheduled event with its fields mistyped or missing."""
    if draw(st.booleans()):
        return draw(JSON_VALUES)
    event = load_event("poll_sora_status")
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=4, unique=True)):
        if draw(st.booleans()):
            del event[key]
        else:
            event[key] = draw(JSON_VALUES)
    return event


@given(event=scheduler_events())
@BATCH_SETTINGS
def test_any_scheduler_event_runs_the_sweep_and_polls_the_due_job(world: World, event: Any) -> None:
    job_id = world.submit().body["id"]
    world.advance(70)  # the provider has finished it; the sweep must see that

    report = load_handler("poll_sora_status").lambda_handler(event, LambdaContext())

    assert report["outcomes"].get("polled", 0) >= 1, report
    assert world.stored_job(job_id).awaiting_storage  # and its store request is queued


# --- store-video (SQS) -----------------------------------------------------------------------------


def store_request(world: World) -> tuple[str, str]:
    """A job whose video the provider finished, and the store request the backend queued for it."""
    job_id = world.submit().body["id"]
    world.advance(70)
    world.sora_status(job_id)
    [message] = empty_queue(world, world.resources.queue_url)
    return job_id, message["Body"]


@given(data=st.data())
@BATCH_SETTINGS
def test_a_store_request_is_stored_whatever_broken_messages_share_its_batch(world: World, data: st.DataObject) -> None:
    job_id, body = store_request(world)
    other_values = {
        "job_id": st.text(min_size=1, max_size=40) | HUGE_STRINGS,
        "provider_video_id": st.text(min_size=1, max_size=40),
        "attempt": st.integers(1, 10**6),
    }
    messages = data.draw(mixed_batches([body], broken_bodies(json.loads(body), other_values)), label="batch")

    result = load_handler("store_video").lambda_handler(sqs_event("store_video", messages), LambdaContext())

    assert_only_broken_messages_fail(messages, result, lambda body: parses_as(StoreVideoMessage, body))
    job = world.stored_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.video is not None
    assert job.video.key in world.bucket_keys()


# --- webhook delivery (SQS) ------------------------------------------------------------------------


def delivery_requests(world: World) -> tuple[list[str], dict[str, str]]:
    """A job's first delivery attempts, as the outbox queued them, and each delivery's event id."""
    empty_queue(world, world.resources.webhook_queue_url)
    job_id = world.submit(webhook_url=HOOK).body["id"]
    world.drain_stream()
    bodies = [message["Body"] for message in empty_queue(world, world.resources.webhook_queue_url)]
    event_ids = {delivery.id: delivery.event_id for delivery in world.services.webhooks.all_for_job(job_id)}
    assert bodies and len(bodies) == len(event_ids)
    return bodies, event_ids


@given(data=st.data())
@BATCH_SETTINGS
def test_a_webhook_is_delivered_once_whatever_broken_messages_share_its_batch(
    world: World, data: st.DataObject
) -> None:
    bodies, event_ids = delivery_requests(world)
    other_values = {
        "delivery_id": st.text(min_size=1, max_size=40) | HUGE_STRINGS,
        "run": st.integers(1, 10**6),
        "attempt": st.integers(1, 10**6),
        "not_before": st.one_of(
            st.datetimes(timezones=st.just(UTC) | st.none()), st.datetimes(datetime(2030, 1, 1), timezones=st.just(UTC))
        ).map(datetime.isoformat),
    }
    messages = data.draw(mixed_batches(bodies, broken_bodies(json.loads(bodies[0]), other_values)), label="batch")

    result = load_handler("deliver_webhook").lambda_handler(sqs_event("deliver_webhook", messages), LambdaContext())

    assert_only_broken_messages_fail(messages, result, lambda body: parses_as(WebhookDeliveryMessage, body))
    for delivery_id, event_id in event_ids.items():
        sent = [hook for hook in world.receivers.at(HOOK) if hook.headers["webhook-id"] == event_id]
        delivery = world.services.webhooks.get(delivery_id)
        assert len(sent) == 1 and delivery is not None and delivery.state == "delivered", delivery_id
    # An early message goes back on the queue; a broken one must not circulate (15 min hops) for ever.
    for requeued in empty_queue(world, world.resources.webhook_queue_url):
        not_before = WebhookDeliveryMessage.model_validate_json(requeued["Body"]).not_before
        assert not_before <= world.clock.now() + LONGEST_WAIT, requeued["Body"]


# --- webhook events (DynamoDB stream) --------------------------------------------------------------


class StreamReader:
    """The table's change stream from the start; each read returns the records since the last one."""

    def __init__(self, world: World) -> None:
        self._streams = world.session.client("dynamodbstreams")
        arn = world.dynamodb.describe_table(TableName=world.resources.table_name)["Table"]["LatestStreamArn"]
        shard = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        response = self._streams.get_records(ShardIterator=self._iterator)
        self._iterator = response["NextShardIterator"]
        records: list[dict[str, Any]] = response["Records"]
        return records


@pytest.fixture
def stream(world: World) -> StreamReader:
    return StreamReader(world)


BROKEN_ATTRIBUTE_VALUES = st.one_of(
    st.sampled_from([{"N": "not-a-number"}, {"S": 5}, {"X": "unknown type"}, {"M": "not a map"}, {}]),
    JSON_VALUES.filter(lambda value: not isinstance(value, dict)),
    st.text(min_size=1, max_size=12).filter(lambda s: s not in set(JobStatus)).map(lambda s: {"S": s}),
)
JOB_ATTRIBUTES = ["id", "owner", "status", "prompt", "created_at", "updated_at", "attempt", "version", "progress"]


@st.composite
def malformed_records(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """A stream record with its envelope intact (the event source always sends that) and a broken payload."""
    record = copy.deepcopy(template)
    images = record["dynamodb"]
    kind = draw(st.sampled_from(["attribute", "missing", "image", "keys", "event name", "empty"]))
    image_name = draw(st.sampled_from(["NewImage", "OldImage"]))
    if kind == "attribute":
        for name in draw(st.lists(st.sampled_from(JOB_ATTRIBUTES), min_size=1, max_size=3, unique=True)):
            images.setdefault(image_name, {})[name] = draw(BROKEN_ATTRIBUTE_VALUES)
    elif kind == "missing":
        for name in draw(st.lists(st.sampled_from(JOB_ATTRIBUTES), min_size=1, max_size=3, unique=True)):
            images.get(image_name, {}).pop(name, None)
    elif kind == "image":
        images[image_name] = draw(JSON_VALUES.filter(lambda value: not isinstance(value, dict)) | HUGE_STRINGS)
    elif kind == "keys":
        images["Keys"] = draw(st.one_of(JSON_VALUES, st.just({"pk": "JOB#not-a-descriptor"})))
    elif kind == "event name":
        record["eventName"] = draw(st.sampled_from(["REMOVE", "", "EXPLODE"]) | st.text(max_size=8))
    else:
        record["dynamodb"] = {}
    record["dynamodb"]["SequenceNumber"] = f"9{draw(st.integers(0, 10**20)):021d}"
    return record


def unreadable_job_change(record: dict[str, Any]) -> bool:
    """The record is a job change whose images cannot be read (what the handler must report, not drop)."""
    try:
        if is_job_change(record) and record.get("eventName") != "REMOVE":
            job_change(record)
    except Exception:
        return True
    return False


def expected_events(records: list[dict[str, Any]]) -> set[str]:
    """The webhook event ids the valid job records carry."""
    changes = [job_change(r) for r in records if is_job_change(r) and r["eventName"] != "REMOVE"]
    events = [produced_event(old, new) for old, new in changes if new is not None]
    return {event.id for event in events if event is not None}


@given(data=st.data())
@BATCH_SETTINGS
def test_valid_stream_records_queue_their_deliveries_whatever_malformed_records_share_the_batch(
    world: World, stream: StreamReader, data: st.DataObject
) -> None:
    stream.new_records()  # what earlier examples left behind
    empty_queue(world, world.resources.webhook_queue_url)
    job_id = world.submit(webhook_url=HOOK).body["id"]
    valid = stream.new_records()
    job_records = [r for r in valid if r["dynamodb"]["Keys"]["pk"]["S"] == f"JOB#{job_id}"]
    assert job_records
    broken = data.draw(
        st.lists(malformed_records(data.draw(st.sampled_from(job_records))), min_size=1, max_size=8), label="broken"
    )
    records = data.draw(st.permutations([*valid, *broken]), label="order")

    result = load_handler("webhook_events").lambda_handler({"Records": records}, LambdaContext())

    failed = failed_ids(result)
    broken_sequence_numbers = {r["dynamodb"]["SequenceNumber"] for r in broken}
    assert failed <= broken_sequence_numbers, "a valid stream record failed with its batch"
    for record in broken:
        if unreadable_job_change(record):
            assert record["dynamodb"]["SequenceNumber"] in failed, f"a malformed record was dropped: {record}"
    events = {delivery.event_id for delivery in world.services.webhooks.all_for_job(job_id)}
    assert events == expected_events(job_records) and events
    queued = [json.loads(m["Body"]) for m in empty_queue(world, world.resources.webhook_queue_url)]
    assert {m["delivery_id"] for m in queued} == {d.id for d in world.services.webhooks.all_for_job(job_id)}
