"""Two corrections to moto's DynamoDB, without which the local stack loses webhook events under load.

1. **One DynamoDB request at a time.** moto's server answers each request on its own thread, but its
   DynamoDB backend is not thread-safe: a conditional write reads and writes in two steps, and
   TransactWriteItems deep-copies whole tables while other threads write them (moto then answers 500,
   "dictionary changed size during iteration"). A cancelled transaction puts its copy back, undoing every
   write other threads made in between. DynamoDB applies each request atomically, so
   `SerializedDynamoDB` makes every DynamoDB and DynamoDB Streams request take one lock, shared by every
   moto server of the process (moto's state is the process's).

2. **A cancelled transaction keeps the table's stream.** moto rolls a cancelled TransactWriteItems back by
   replacing each table it names with its copy, and the copy has its own stream shard. A shard iterator
   handed out before then still reads the discarded shard, so a reader already following the stream sees
   nothing from then on: the local stack's stream poller (and with it every webhook event) stopped at the
   first transition that lost a race. `keep_streams_through_cancelled_transactions()` puts the live shard
   back on the restored table, less the records the cancelled transaction itself added, which is what
   DynamoDB's stream shows: a cancelled transaction writes nothing. It needs the requests serialized (1.,
   or `local.serialized_boto3` in-process), so that those records are the transaction's alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard

# Every DynamoDB and DynamoDB Streams request of the process's moto servers, one at a time.
DYNAMODB_REQUEST_LOCK = threading.Lock()

# The JSON protocol names the operation in this header: "DynamoDB_20120810.PutItem",
# "DynamoDBStreams_20120810.GetRecords".
_DYNAMODB_TARGET_PREFIX = "DynamoDB"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedDynamoDB:
    """A WSGI middleware for moto's server app: DynamoDB requests run one at a time, the others as before
    (an SQS long poll must not hold up DynamoDB)."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_DYNAMODB_TARGET_PREFIX):
            return self._app(environ, start_response)
        with DYNAMODB_REQUEST_LOCK:
            response = self._app(environ, start_response)
            try:
                return [b"".join(response)]  # read while the lock is held
            finally:
                if close := getattr(response, "close", None):
                    close()


_PATCHED_MARK = "_keeps_streams_through_cancelled_transactions"


def keep_streams_through_cancelled_transactions() -> None:
    """Patches moto's TransactWriteItems for the life of the process (calling it again does nothing)."""
    if getattr(DynamoDBBackend.transact_write_items, _PATCHED_MARK, False):
        return
    moto_transact_write_items = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        live_shards: dict[str, tuple[StreamShard, int]] = {
            name: (table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if table.stream_shard is not None
        }
        try:
            moto_transact_write_items(self, transact_items)
        except Exception:
            for name, (shard, length_before) in live_shards.items():
                restored = self.tables.get(name)
                if restored is None or restored.stream_shard is shard:
                    continue  # not rolled back
                del shard.items[length_before:]  # what the cancelled transaction wrote
                shard.table = restored
                restored.stream_shard = shard
            raise

    setattr(transact_write_items, _PATCHED_MARK, True)
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
