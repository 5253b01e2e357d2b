"""moto's Query on a secondary index sorts every item of the table (`Table.all_items`), then compares each with
the key condition, for every page of every query. The sweep queries the `due` index nine times a pass (three
providers, three shards), three sweeps a tick, so at N=1,000 a run spent most of its time there.

`indexed_queries()` keeps moto's query as it is, but hands it, in place of every item of the table, only the
items whose index partition key has the value the query asks for, in the order `all_items` gives them. moto's
own code still does everything else (the exact key match, the sort, the start key, the limit and the size
limit, the range condition, the projection), so its answer is unchanged: the same items in the same order,
the same counts, the same LastEvaluatedKey. tests/chaos/test_moto_queries.py checks that against moto's own.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table


def _sort_key(item: Item) -> Any:
    """`Table.all_items`' own order."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _partition_items(table: Table, conditions: list[tuple[str, DynamoType]]) -> list[Item]:
    """The items whose attributes equal every partition key condition, in `all_items`' order: all the items
    moto's query can answer with (moto then checks each again itself)."""
    rows: list[Any] = list(table.items.values())  # items, or with a range key dicts of them
    items: list[Item] = [item for row in rows for item in row.values()] if table.range_key_attr else rows
    matching = [
        item
        for item in items
        if all((value := item.attrs.get(name)) is not None and value == expected for name, expected in conditions)
    ]
    return sorted(matching, key=_sort_key)


@contextmanager
def indexed_queries() -> Iterator[None]:
    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)
    narrowed = threading.local()  # (table, its items for the query now running on this thread)

    def all_items(self: Table) -> list[Item]:
        current = getattr(narrowed, "table_items", None)
        if current is not None and current[0] is self:
            return list(current[1])
        return original_all_items(self)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        conditions = bound.get("hash_key_conditions")
        if not bound.get("index_name") or not conditions:
            return original_query(self, *args, **kwargs)
        narrowed.table_items = (self, _partition_items(self, conditions))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            narrowed.table_items = None

    with mock.patch.object(Table, "query", query), mock.patch.object(Table, "all_items", all_items):
        yield
