"""The local stack's moto behaves as DynamoDB does where the stack depends on it (`local.moto_dynamodb`):
a cancelled transaction leaves the stream readable and writes nothing, and concurrent requests to moto's
server are each applied whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.moto_dynamodb import keep_streams_through_cancelled_transactions
from local.moto_server import MotoServer

pytestmark = pytest.mark.e2e

TABLE = "moto-corrections"
REGION = "us-east-1"


def _create_table(client: Any) -> str:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"])


class StreamReader:
    """Follows the table's stream from its start, as the local stream poller does."""

    def __init__(self, streams: Any, stream_arn: str) -> None:
        self._streams = streams
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self._iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_keys(self) -> list[str]:
        response = self._streams.get_records(ShardIterator=self._iterator, Limit=1000)
        self._iterator = response["NextShardIterator"]
        return [record["dynamodb"]["Keys"]["pk"]["S"] for record in response["Records"]]


def _put(client: Any, key: str) -> None:
    client.put_item(TableName=TABLE, Item={"pk": {"S": key}, "n": {"N": "1"}})


def _cancelled_transaction(client: Any, written: str, checked: str) -> None:
    """Puts `written`, then fails its condition on `checked`: DynamoDB cancels the whole transaction."""
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": written}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": checked}},
                        "ConditionExpression": "n = :never",
                        "ExpressionAttributeValues": {":never": {"N": "-1"}},
                    }
                },
            ]
        )


@pytest.fixture
def moto_in_process() -> Iterator[boto3.session.Session]:
    keep_streams_through_cancelled_transactions()
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def test_a_stream_reader_sees_the_changes_after_a_cancelled_transaction_and_none_of_its_writes(moto_in_process):
    client, streams = moto_in_process.client("dynamodb"), moto_in_process.client("dynamodbstreams")
    reader = StreamReader(streams, _create_table(client))
    _put(client, "before")
    assert reader.new_keys() == ["before"]

    _cancelled_transaction(client, written="never-written", checked="before")
    _put(client, "after")

    assert reader.new_keys() == ["after"]
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "never-written"}})


def test_a_cancelled_transaction_on_moto_server_undoes_no_write_another_request_made_meanwhile():
    """Without one DynamoDB request at a time, a cancelled transaction puts back a table copied before the
    other threads' puts, and moto answers 500 when it copies a table while another thread writes it."""
    writers, puts_each, cancels = 4, 40, 60
    server = MotoServer().start()
    try:
        session = boto3.session.Session(region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        client = session.client("dynamodb", endpoint_url=server.url)
        reader = StreamReader(session.client("dynamodbstreams", endpoint_url=server.url), _create_table(client))
        _put(client, "checked")
        failures: list[BaseException] = []

        def run(step: Any) -> None:
            try:
                step()
            except BaseException as error:  # reported by the assertion below
                failures.append(error)

        def puts(writer: int) -> None:
            own = session.client("dynamodb", endpoint_url=server.url)
            for index in range(puts_each):
                _put(own, f"w{writer}-{index}")

        def cancelled_transactions() -> None:
            own = session.client("dynamodb", endpoint_url=server.url)
            for index in range(cancels):
                _cancelled_transaction(own, written=f"cancelled-{index}", checked="checked")

        threads = [threading.Thread(target=run, args=(lambda w=w: puts(w),)) for w in range(writers)]
        threads.append(threading.Thread(target=run, args=(cancelled_transactions,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        expected = {f"w{writer}-{index}" for writer in range(writers) for index in range(puts_each)}
        stored = {item["pk"]["S"] for item in client.scan(TableName=TABLE)["Items"]} - {"checked"}
        streamed = reader.new_keys()
    finally:
        server.reset()
        server.stop()

    assert failures == []
    assert stored == expected
    assert sorted(streamed) == sorted(["checked", *expected])
