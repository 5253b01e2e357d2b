"""Webhook records in the jobs table: deliveries and their attempts, disabled endpoints, and the
inbound provider events already seen.

Deliveries are listed per job through the `webhooks_by_job` index (newest event first); every
change to a delivery is a conditional write on its run and the attempts made in it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sorajobs.dal.conditions import condition_failed
from sorajobs.dal.cursors import decode_cursor, encode_cursor
from sorajobs.dal.job_items import deserialize, serialize
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.webhooks import WebhookDelivery
from sorajobs.timeutil import from_epoch_ms, to_epoch_ms

WEBHOOKS_BY_JOB_INDEX = "webhooks_by_job"
DELIVERY_KEY_PREFIX = "WEBHOOK#"
ENDPOINT_KEY_PREFIX = "WEBHOOK_ENDPOINT#"
PROVIDER_EVENT_KEY_PREFIX = "PROVIDER_WEBHOOK#"
# The delivery log outlives the whole retry schedule (about 28 h) by weeks.
DELIVERY_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_cursor: str | None


def delivery_key(delivery_id: str) -> dict[str, Any]:
    return {"pk": {"S": DELIVERY_KEY_PREFIX + delivery_id}}


def _endpoint_key(url: str) -> dict[str, Any]:
    return {"pk": {"S": ENDPOINT_KEY_PREFIX + hashlib.sha256(url.encode()).hexdigest()}}


def delivery_to_item(delivery: WebhookDelivery) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(delivery.model_dump_json(exclude_none=True, exclude={"claim_until"}))
    if delivery.claim_until is not None:
        data["claim_until"] = to_epoch_ms(delivery.claim_until)  # compared in a condition: a number
    data["pk"] = DELIVERY_KEY_PREFIX + delivery.id
    data["webhook_job"] = delivery.job_id
    data["webhook_key"] = f"{delivery.sequence:010d}#{delivery.destination.value}"
    data["expiration"] = int((delivery.created_at + DELIVERY_RETENTION).timestamp())
    return serialize(data)


def delivery_from_item(item: dict[str, Any]) -> WebhookDelivery:
    data = deserialize(item)
    if "claim_until" in data:
        data["claim_until"] = from_epoch_ms(data["claim_until"])
    for name in ("pk", "webhook_job", "webhook_key", "expiration"):
        data.pop(name, None)
    return WebhookDelivery.model_validate(data)


class WebhookRepository:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    # --- deliveries ---------------------------------------------------------------------------

    def create(self, delivery: WebhookDelivery) -> bool:
        """Stores a new delivery; False when it exists already (the same stream record seen again)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=delivery_to_item(delivery),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        response = self._client.get_item(TableName=self._table, Key=delivery_key(delivery_id), ConsistentRead=True)
        item = response.get("Item")
        return delivery_from_item(item) if item else None

    def claim(
        self, delivery_id: str, *, run: int, tries: int, now: datetime, hold: timedelta
    ) -> WebhookDelivery | None:
        """Takes the delivery for the attempt after `tries` of `run`; None when that attempt is not
        the next one (a duplicate message, a replay since) or another worker holds it."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=delivery_key(delivery_id),
                UpdateExpression="SET claim_until = :until",
                ConditionExpression=(
                    "#run = :run AND tries = :tries AND #state = :scheduled "
                    "AND (attribute_not_exists(claim_until) OR claim_until <= :now)"
                ),
                ExpressionAttributeNames={"#run": "run", "#state": "state"},
                ExpressionAttributeValues=serialize(
                    {
                        ":until": to_epoch_ms(now + hold),
                        ":now": to_epoch_ms(now),
                        ":run": run,
                        ":tries": tries,
                        ":scheduled": "scheduled",
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return delivery_from_item(response["Attributes"])

    def save(self, before: WebhookDelivery, after: WebhookDelivery) -> WebhookDelivery:
        """Writes `after` only if the stored delivery is still at `before`'s run and tries."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=delivery_to_item(after),
                ConditionExpression="#run = :run AND tries = :tries",
                ExpressionAttributeNames={"#run": "run"},
                ExpressionAttributeValues=serialize({":run": before.run, ":tries": before.tries}),
            )
        except ClientError as error:
            if condition_failed(error):
                raise TransitionConflict(before.id) from error
            raise
        return after

    def list_for_job(self, job_id: str, *, limit: int, cursor: str | None = None) -> DeliveryPage:
        """The job's deliveries, newest event first (a Query on `webhooks_by_job`, never a Scan)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": WEBHOOKS_BY_JOB_INDEX,
            "KeyConditionExpression": "webhook_job = :job",
            "ExpressionAttributeValues": {":job": {"S": job_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, "webhook_job", job_id, sort_attr="webhook_key")
        response = self._client.query(**query)
        deliveries = [delivery_from_item(item) for item in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return DeliveryPage(deliveries=deliveries, next_cursor=encode_cursor(last_key) if last_key else None)

    def all_for_job(self, job_id: str) -> list[WebhookDelivery]:
        deliveries: list[WebhookDelivery] = []
        cursor: str | None = None
        while True:
            page = self.list_for_job(job_id, limit=100, cursor=cursor)
            deliveries.extend(page.deliveries)
            if page.next_cursor is None:
                return deliveries
            cursor = page.next_cursor

    # --- endpoints ----------------------------------------------------------------------------

    def disable_endpoint(self, url: str, now: datetime, reason: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={**_endpoint_key(url), **serialize({"url": url, "disabled_at": now.isoformat(), "reason": reason})},
        )

    def enable_endpoint(self, url: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_endpoint_key(url))

    def endpoint_disabled(self, url: str) -> bool:
        response = self._client.get_item(TableName=self._table, Key=_endpoint_key(url), ConsistentRead=True)
        return "Item" in response

    # --- inbound provider events --------------------------------------------------------------

    def remember_provider_event(self, webhook_id: str, now: datetime, keep_for: timedelta) -> bool:
        """Records an inbound event id; False when it was seen already (a provider retry)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(
                    {
                        "pk": PROVIDER_EVENT_KEY_PREFIX + webhook_id,
                        "received_at": now.isoformat(),
                        "expiration": int((now + keep_for).timestamp()),
                    }
                ),
                # TTL deletes late (up to days), so an expired record counts as absent.
                ConditionExpression="attribute_not_exists(pk) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def forget_provider_event(self, webhook_id: str) -> None:
        """Lets a provider retry through again, after the event could not be handled."""
        self._client.delete_item(TableName=self._table, Key={"pk": {"S": PROVIDER_EVENT_KEY_PREFIX + webhook_id}})
