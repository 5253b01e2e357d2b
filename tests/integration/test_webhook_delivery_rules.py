"""The delivery worker's rules that the end-to-end tests do not reach: early messages, claims, Retry-After."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import httpx

from sorajobs.logic.delivery import (
    CLAIM_HOLD,
    AttemptResult,
    DeliveryOutcome,
    next_attempt_delay,
    retry_after_delay,
)
from sorajobs.models.webhooks import WebhookDeliveryMessage
from tests.conftest import LambdaContext, load_event, load_handler

HOOK = "https://hooks.example.com/sora"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def queued_delivery(world) -> WebhookDeliveryMessage:
    world.submit(webhook_url=HOOK)
    world.drain_stream()
    received = world.sqs.receive_message(QueueUrl=world.resources.webhook_queue_url, MaxNumberOfMessages=10)
    [message] = received["Messages"]
    world.sqs.delete_message(QueueUrl=world.resources.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return WebhookDeliveryMessage.model_validate_json(message["Body"])


def test_an_early_message_goes_back_on_the_queue_and_sends_nothing(world):
    message = queued_delivery(world)
    early = message.model_copy(update={"not_before": world.clock.now() + timedelta(hours=2)})

    outcome = world.wiring.deliverer.deliver(early)

    assert outcome is DeliveryOutcome.WAITING
    assert world.receivers.received == []
    [requeued] = world.sqs.receive_message(QueueUrl=world.resources.webhook_queue_url)["Messages"]
    assert WebhookDeliveryMessage.model_validate_json(requeued["Body"]) == early


def test_an_early_message_waits_at_most_15_minutes_per_hop(world):
    world.use_settings(webhook_max_queue_delay_seconds=900)
    sent = []
    world.services.webhook_queue._sqs = type("Recorder", (), {"send_message": lambda self, **kw: sent.append(kw)})()
    message = WebhookDeliveryMessage(
        delivery_id="d", run=1, attempt=5, not_before=world.clock.now() + timedelta(hours=5)
    )

    world.wiring.deliverer.deliver(message)

    assert sent[0]["DelaySeconds"] == 900


def test_a_duplicate_message_for_the_same_attempt_sends_once(world):
    message = queued_delivery(world)
    deliverer = world.wiring.deliverer

    first = deliverer.deliver(message)
    second = deliverer.deliver(message)

    assert (first, second) == (DeliveryOutcome.DELIVERED, DeliveryOutcome.NOT_NEXT)
    assert len(world.receivers.received) == 1


def test_a_worker_that_died_mid_attempt_loses_its_claim_and_the_redelivery_sends(world):
    message = queued_delivery(world)
    claimed = world.services.webhooks.claim(message.delivery_id, run=1, tries=0, now=world.clock.now(), hold=CLAIM_HOLD)
    assert claimed is not None  # ... and the worker died here
    deliverer = world.wiring.deliverer

    while_held = deliverer.deliver(message)
    world.advance(CLAIM_HOLD.total_seconds())
    after_hold = deliverer.deliver(message)

    assert (while_held, after_hold) == (DeliveryOutcome.NOT_NEXT, DeliveryOutcome.DELIVERED)
    assert len(world.receivers.received) == 1


def test_a_broken_message_fails_alone_in_its_batch(world):
    message = queued_delivery(world)
    event = load_event("deliver_webhook")
    good = {**event["Records"][0], "messageId": "good", "body": message.model_dump_json()}
    broken = {**event["Records"][0], "messageId": "broken", "body": json.dumps({"delivery_id": 7})}

    result = load_handler("deliver_webhook").lambda_handler({"Records": [broken, good]}, LambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert len(world.receivers.received) == 1


def test_a_broken_stream_record_fails_alone_in_its_batch(world):
    world.submit(webhook_url=HOOK)
    streams = world.session.client("dynamodbstreams")
    arn = world.dynamodb.describe_table(TableName=world.resources.table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = [
        r
        for r in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        if r["dynamodb"]["Keys"]["pk"]["S"].startswith("JOB#")
    ]
    broken = copy.deepcopy(records[-1])
    broken["dynamodb"]["SequenceNumber"] = "999"
    broken["dynamodb"]["NewImage"]["status"] = {"S": "exploded"}

    result = load_handler("webhook_events").lambda_handler({"Records": [broken, *records]}, LambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert len(world.services.webhooks.all_for_job(records[-1]["dynamodb"]["Keys"]["pk"]["S"][4:])) == 1


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    assert retry_after_delay("120", NOW) == timedelta(seconds=120)
    assert retry_after_delay("Sat, 21 Nov 2026 12:10:00 GMT", NOW) == timedelta(minutes=10)
    assert retry_after_delay("999999", NOW) == timedelta(hours=10)
    assert retry_after_delay("9" * 30, NOW) == timedelta(hours=10)  # capped before it becomes a timedelta
    assert retry_after_delay("soon", NOW) is None
    assert retry_after_delay(None, NOW) is None


def test_retry_after_counts_only_on_429_and_503_and_never_shortens_the_schedule():
    def result(status: int, after: float) -> AttemptResult:
        return AttemptResult(status_code=status, duration_ms=1, error="x", retry_after=timedelta(seconds=after))

    assert next_attempt_delay(1, result(503, 60)) == timedelta(seconds=60)
    assert next_attempt_delay(1, result(500, 60)) == timedelta(seconds=5)
    assert next_attempt_delay(3, result(429, 1)) == timedelta(seconds=1800)
    assert next_attempt_delay(8, result(503, 1)) is None


def test_a_redirect_is_not_followed_and_counts_as_a_failure(world):
    world.receivers.script(HOOK, httpx.Response(302, headers={"Location": "http://169.254.169.254/"}))
    world.submit(webhook_url=HOOK)
    world.deliver_webhooks()

    assert [hook.url for hook in world.receivers.received] == [HOOK]
