"""The chaos run's cheaper moto transaction rollback leaves the table exactly as moto's own does."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.backends import get_backend

from tests.chaos.moto_transactions import cheap_transaction_rollback

TABLE = "transactions"
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
KEY_TYPES = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")]


def _create_table(client: Any, **options: Any) -> None:
    client.create_table(
        TableName=TABLE, KeySchema=KEY_SCHEMA, AttributeDefinitions=KEY_TYPES, BillingMode="PAY_PER_REQUEST", **options
    )


def _table_state(client: Any) -> tuple[list[dict[str, Any]], int]:
    items = sorted(client.scan(TableName=TABLE)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
    stream = get_backend("dynamodb")["123456789012"]["us-east-1"].get_table(TABLE).stream_shard
    return items, len(stream.items)


def _run(rollback: Any) -> tuple[tuple[list[dict[str, Any]], int], tuple[list[dict[str, Any]], int]]:
    """(the state after a cancelled transaction, the state after a committed one)."""
    with mock_aws(), rollback:
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_table(client, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for name in ("a", "b", "untouched"):
            client.put_item(TableName=TABLE, Item={"pk": {"S": name}, "sk": {"S": "0"}, "n": {"N": "1"}})

        def transaction(condition_value: str) -> list[dict[str, Any]]:
            return [
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "0"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "new"}, "sk": {"S": "0"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "b"}, "sk": {"S": "0"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ConditionExpression": "n = :expected",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": condition_value}},
                    }
                },
            ]

        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(TransactItems=transaction("7"))
        cancelled = _table_state(client)
        client.transact_write_items(TransactItems=transaction("1"))
        return cancelled, _table_state(client)


def test_a_cancelled_and_a_committed_transaction_leave_the_same_table_as_motos_own_rollback():
    assert _run(cheap_transaction_rollback()) == _run(nullcontext())


def test_a_cancelled_transaction_leaves_nothing_it_wrote():
    (items, stream_records), _ = _run(cheap_transaction_rollback())

    assert [(item["pk"]["S"], item["n"]["N"]) for item in items] == [("a", "1"), ("b", "1"), ("untouched", "1")]
    assert stream_records == 3  # the three puts before it


def test_a_committed_transaction_writes_every_item():
    _, (items, stream_records) = _run(cheap_transaction_rollback())

    assert [(item["pk"]["S"], item.get("n", {}).get("N")) for item in items] == [
        ("a", "2"),
        ("b", "2"),
        ("new", None),
        ("untouched", "1"),
    ]
    assert stream_records == 6


def test_a_cancelled_transaction_copies_only_the_items_it_writes():
    with mock_aws(), cheap_transaction_rollback():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_table(client)
        for name in ("written", "untouched"):
            client.put_item(TableName=TABLE, Item={"pk": {"S": name}, "sk": {"S": "0"}})
        backend = get_backend("dynamodb")["123456789012"]["us-east-1"]
        before = dict(backend.get_table(TABLE).items)

        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": {"pk": {"S": "written"}, "sk": {"S": "0"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                ]
            )

        after = backend.get_table(TABLE).items
        shared = {key.value: after[key][sort] is item for key, row in before.items() for sort, item in row.items()}
        assert shared == {"written": False, "untouched": True}
