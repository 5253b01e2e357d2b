"""The chaos run's narrowed index queries answer exactly as moto's own: the same items in the same order, the
same counts and the same LastEvaluatedKey on every page."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import boto3
from moto import mock_aws

from tests.chaos.moto_queries import indexed_queries

SHARDS = ["openai#0", "openai#1", "fal#0", "runway#2"]


def _attribute(name: str, kind: str) -> dict[str, str]:
    return {"AttributeName": name, "AttributeType": kind}


def _index(name: str, hash_attr: str, range_attr: str | None, projection: str) -> dict[str, Any]:
    schema = [{"AttributeName": hash_attr, "KeyType": "HASH"}]
    if range_attr:
        schema.append({"AttributeName": range_attr, "KeyType": "RANGE"})
    return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": projection}}


def _create_tables(client: Any) -> None:
    indexes = [
        _index("due", "due_shard", "next_poll_at", "KEYS_ONLY"),  # as template.yaml's
        _index("by_owner", "owner", "created_key", "ALL"),
        _index("by_video", "video", None, "ALL"),
    ]
    attributes = [
        _attribute("due_shard", "S"),
        _attribute("next_poll_at", "N"),
        _attribute("owner", "S"),
        _attribute("created_key", "S"),
        _attribute("video", "S"),
    ]
    client.create_table(
        TableName="hash_only",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[_attribute("pk", "S"), *attributes],
        GlobalSecondaryIndexes=indexes,
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="hash_and_range",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[_attribute("pk", "S"), _attribute("sk", "S"), *attributes],
        GlobalSecondaryIndexes=indexes,
        BillingMode="PAY_PER_REQUEST",
    )


def _items(seed: int, count: int) -> list[dict[str, Any]]:
    """Jobs, some due in a shard and some not, some with equal due times, and items no index holds."""
    draw = random.Random(seed)
    items = []
    for number in range(count):
        item: dict[str, Any] = {"pk": {"S": f"JOB#{draw.randrange(10**6):06d}-{number}"}, "sk": {"S": "job"}}
        if draw.random() < 0.8:
            item["due_shard"] = {"S": draw.choice(SHARDS)}
        if draw.random() < 0.9:  # few distinct due times, so many equal ones
            item["next_poll_at"] = {"N": str(draw.choice([1000, 2000, 2000, 3000]) + draw.randrange(5))}
        if draw.random() < 0.7:
            item["owner"] = {"S": f"owner-{draw.randrange(3)}"}
            item["created_key"] = {"S": f"{draw.randrange(100):03d}#{number}"}
        if draw.random() < 0.5:
            item["video"] = {"S": f"video-{draw.randrange(20)}"}
        item["prompt"] = {"S": "x" * draw.randrange(200)}
        items.append(item)
    return items


def _queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = []
    for shard in [*SHARDS, "nobody#9"]:
        for now in (999, 2025, 9999):
            for limit in (3, None):
                query: dict[str, Any] = {
                    "IndexName": "due",
                    "KeyConditionExpression": "due_shard = :shard AND next_poll_at <= :now",
                    "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(now)}},
                }
                queries.append(query if limit is None else {**query, "Limit": limit})
    for owner in ("owner-0", "owner-1", "owner-2"):
        for forward in (True, False):
            queries.append(
                {
                    "IndexName": "by_owner",
                    "KeyConditionExpression": "#o = :o",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":o": {"S": owner}},
                    "ScanIndexForward": forward,
                    "Limit": 4,
                }
            )
            queries.append(
                {
                    "IndexName": "by_owner",
                    "KeyConditionExpression": "#o = :o AND begins_with(created_key, :p)",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":o": {"S": owner}, ":p": {"S": "0"}},
                    "ScanIndexForward": forward,
                    "Limit": 5,
                }
            )
    for video in ("video-3", "video-7", "video-99"):
        queries.append(
            {
                "IndexName": "by_video",
                "KeyConditionExpression": "video = :v",
                "ExpressionAttributeValues": {":v": {"S": video}},
                "Limit": 2,
            }
        )
    queries.append(  # the table itself, not an index: moto's own query
        {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "JOB#none"}}}
    )
    return queries


def _answers(queries_in_use: AbstractContextManager[Any], seed: int) -> list[list[dict[str, Any]]]:
    """Every page of every query, on both tables, as the client got it."""
    pages_of_every_query = []
    with mock_aws(), queries_in_use:
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_tables(client)
        for table in ("hash_only", "hash_and_range"):
            for item in _items(seed, 120):
                client.put_item(TableName=table, Item=item)
            for query in _queries():
                pages, request = [], {"TableName": table, **query}
                while True:
                    response = client.query(**request)
                    response.pop("ResponseMetadata")
                    pages.append(response)
                    if "LastEvaluatedKey" not in response:
                        break
                    request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
                pages_of_every_query.append(pages)
    return pages_of_every_query


def test_every_page_of_every_index_query_is_motos_own_answer():
    assert _answers(indexed_queries(), seed=1) == _answers(nullcontext(), seed=1)


def test_the_answers_compared_are_not_trivial():
    pages_of_every_query = _answers(indexed_queries(), 1)

    pages = [page for pages in pages_of_every_query for page in pages]
    assert sum(len(pages) > 1 for pages in pages_of_every_query) > 20  # paged with LastEvaluatedKey
    assert sum(page["Count"] for page in pages) > 300
    due_times = [item["next_poll_at"]["N"] for page in pages for item in page["Items"] if "next_poll_at" in item]
    assert len(set(due_times)) < len(due_times) / 4  # equal due times: the order among them is compared too


def test_an_item_whose_shard_changes_leaves_and_joins_the_shards_it_should():
    with mock_aws(), indexed_queries():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_tables(client)
        client.put_item(
            TableName="hash_only", Item={"pk": {"S": "JOB#a"}, "due_shard": {"S": "fal#0"}, "next_poll_at": {"N": "1"}}
        )
        client.update_item(
            TableName="hash_only",
            Key={"pk": {"S": "JOB#a"}},
            UpdateExpression="SET due_shard = :s",
            ExpressionAttributeValues={":s": {"S": "runway#2"}},
        )

        def due(shard: str) -> list[str]:
            response = client.query(
                TableName="hash_only",
                IndexName="due",
                KeyConditionExpression="due_shard = :shard AND next_poll_at <= :now",
                ExpressionAttributeValues={":shard": {"S": shard}, ":now": {"N": "10"}},
            )
            return [item["pk"]["S"] for item in response["Items"]]

        assert (due("fal#0"), due("runway#2")) == ([], ["JOB#a"])
