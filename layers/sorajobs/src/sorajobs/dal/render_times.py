"""The learned render times, one item per kind of job in the jobs table (`RENDER#…`; the stream's filter passes
only `JOB#` items): each finished generation adds to its kind's sums in one UpdateItem, with no read and no Scan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sorajobs.models.render_times import RenderKind, RenderTimeSums, log_seconds

# DynamoDB numbers carry 38 digits; sums of logarithms need far fewer.
_DIGITS = 12


class RenderTimeRepository:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def add(self, kind: RenderKind, seconds: float) -> None:
        """One more finished generation of `kind` that took `seconds` at the provider."""
        logged = log_seconds(seconds)
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": kind.key}},
            UpdateExpression="ADD #count :one, #log_sum :log, #log_square_sum :square",
            ExpressionAttributeNames={
                "#count": "count",
                "#log_sum": "log_sum",
                "#log_square_sum": "log_square_sum",
            },
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":log": {"N": _number(logged)},
                ":square": {"N": _number(logged * logged)},
            },
        )

    def sums(self, kind: RenderKind) -> RenderTimeSums:
        item = self._client.get_item(TableName=self._table, Key={"pk": {"S": kind.key}}).get("Item")
        if not item:
            return RenderTimeSums()
        return RenderTimeSums(
            count=int(item["count"]["N"]),
            log_sum=float(item["log_sum"]["N"]),
            log_square_sum=float(item["log_square_sum"]["N"]),
        )


def _number(value: float) -> str:
    """Fixed-point and without trailing zeros: moto keeps a sum of "0.000…" as "0E-12", which it cannot add to."""
    return format(round(Decimal(value), _DIGITS).normalize(), "f")
