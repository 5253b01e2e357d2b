"""What the fuzzers found, pinned down with the in-process harness (moto and the emulator)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from sorajobs.logic.delivery import DeliveryOutcome
from sorajobs.models.webhooks import WebhookDeliveryMessage
from tests.conftest import World, assert_error, http_event
from tests.integration.test_webhooks_inbound import post_webhook, provider_event, signed_headers

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def test_the_openapi_document_gives_every_operation_the_error_envelope_for_4xx(world: World) -> None:
    document = world.call("read_api", http_event("read_api_openapi", owner=None)).body
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}

    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            if method in HTTP_METHODS:
                catch_all = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
                assert catch_all["anyOf"][0] == envelope, path  # or API Gateway's own {"message": ...}
                assert operation["responses"]["422"]["content"]["application/json"]["schema"] == envelope, path
    schemas = document["components"]["schemas"]
    assert schemas["ErrorResponse"]["required"] == ["error"]
    assert "HTTPValidationError" not in schemas  # Powertools' {"detail": [...]}, which no route answers


@pytest.mark.parametrize(("function", "event_name"), [("submit", "submit"), ("reset", "reset")])
def test_a_body_that_is_not_utf8_is_a_400_invalid_json_not_a_500(world: World, function: str, event_name: str) -> None:
    event = http_event(event_name, raw_body=base64.b64encode(b"\xff\xfe\x00binary").decode())
    event["isBase64Encoded"] = True

    assert_error(world.call(function, event), 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_a_body_of_another_media_type_is_a_415_not_a_500(world: World, content_type: str) -> None:
    event = http_event("submit", body={"prompt": "A paper boat"}, headers={"content-type": content_type})

    assert_error(world.call("submit", event), 415, "unsupported_media_type")


def test_a_signed_provider_webhook_with_an_oversized_id_is_a_400_not_a_500(world: World) -> None:
    body = provider_event("video_unknown")
    headers = signed_headers(world, body, webhook_id="msg_" + "x" * 2100)  # past DynamoDB's 2048-byte key

    assert_error(post_webhook(world, body, headers), 400, "invalid_event")


def test_a_delivery_message_due_further_ahead_than_any_retry_is_dropped_not_passed_on_for_ever(world: World) -> None:
    message = WebhookDeliveryMessage(
        delivery_id="evt_unknown.job", run=1, attempt=1, not_before=world.clock.now() + timedelta(days=365)
    )

    outcome = world.wiring.deliverer.deliver(message)

    assert outcome is DeliveryOutcome.DROPPED
    assert world.sqs.receive_message(QueueUrl=world.resources.webhook_queue_url).get("Messages", []) == []
