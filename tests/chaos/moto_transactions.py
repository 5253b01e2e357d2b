"""moto's TransactWriteItems deep-copies every table a transaction names, all its items and stream records,
before the transaction runs, so it can roll back if the transaction fails. Every status change here is a
transaction, so a run of N jobs costs O(N²) copying: at N=100 it was 71 % of the run's time.

`cheap_transaction_rollback()` keeps moto's rollback as it is, but gives it a copy of the table that
shares the items the transaction does not write and deep-copies only those it does (and copies the stream's
record list, not its records). What a rolled-back or committed transaction leaves behind is unchanged;
tests/chaos/test_moto_transactions.py checks both.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import moto.dynamodb.models as dynamodb_backend_module
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table


class _TableCopier:
    """Stands in for the `copy` module in moto's DynamoDB backend: a table is copied cheaply while a
    transaction names the items it writes; everything else is deep-copied as before."""

    def __init__(self) -> None:
        self._written = threading.local()

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        written: set[int] | None = getattr(self._written, "item_ids", None)
        if written is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        return _copy_sharing_unwritten_items(value, written)

    @contextmanager
    def writing(self, item_ids: set[int]) -> Iterator[None]:
        self._written.item_ids = item_ids
        try:
            yield
        finally:
            self._written.item_ids = None

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _copy_sharing_unwritten_items(table: Table, written: set[int]) -> Table:
    def own(item: Any) -> Any:
        return copy.deepcopy(item) if id(item) in written else item

    backup = copy.copy(table)
    backup.items = defaultdict(dict)
    for hash_value, entry in table.items.items():
        backup.items[hash_value] = (
            {range_value: own(item) for range_value, item in entry.items()} if table.has_range_key else own(entry)
        )
    if table.stream_shard is not None:
        shard = copy.copy(table.stream_shard)
        shard.items = list(table.stream_shard.items)
        shard.table = backup
        backup.stream_shard = shard
    return backup


def _written_item_ids(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> set[int]:
    """The stored items a transaction may change (missing ones need no copy: rollback drops them)."""
    ids = set()
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        try:
            table = backend.get_table(operation["TableName"])
            if "Item" in operation:
                attrs = operation["Item"]
                key_names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                key = {name: attrs[name] for name in key_names}
            else:
                key = operation["Key"]
            item = backend.get_item(operation["TableName"], key)
        except Exception:  # moto itself reports a malformed transaction
            continue
        if item is not None:
            ids.add(id(item))
    return ids


@contextmanager
def cheap_transaction_rollback() -> Iterator[None]:
    copier = _TableCopier()
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with copier.writing(_written_item_ids(self, transact_items)):
            original(self, transact_items)

    with (
        mock.patch.object(dynamodb_backend_module, "copy", copier),
        mock.patch.object(DynamoDBBackend, "transact_write_items", transact_write_items),
    ):
        yield
