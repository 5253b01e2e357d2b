"""The served OpenAPI document as the contract a client generator needs: readable operation ids, the bearer JWT
scheme where the template puts the JWT authorizer, every response modelled, examples that are valid; and the
interactive page at /docs."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from local.template import http_routes
from sorajobs.models.api import ErrorResponse, SubmitVideoRequest, VideoJobResponse
from tests.conftest import World, http_event

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
OPERATION_IDS = {
    ("post", "/videos"): "createVideo",
    ("get", "/videos"): "listVideos",
    ("get", "/videos/{id}"): "getVideo",
    ("get", "/videos/{id}/sora-status"): "refreshVideoStatus",
    ("post", "/videos/{id}/reset"): "resetVideo",
    ("post", "/videos/{id}/cancel"): "cancelVideo",
    ("get", "/videos/{id}/content"): "getVideoContent",
    ("get", "/videos/{id}/webhooks"): "listWebhookDeliveries",
    ("post", "/videos/{id}/webhooks/replay"): "replayWebhook",
    ("post", "/uploads"): "createImageUpload",
    ("get", "/models"): "listModels",
    ("get", "/stats"): "getStats",
    ("post", "/provider-webhooks/openai"): "receiveOpenAIWebhook",
    ("post", "/provider-webhooks/fal"): "receiveFalWebhook",
    ("get", "/doctor"): "runDoctor",
    ("get", "/videos/{id}/attempts"): "listVideoAttempts",
}
# What each successful answer is, by operation: (status, schema name), or no body for the redirect.
# getVideoContent also answers 200 with the URL (ContentUrlResponse) when asked not to redirect.
ALSO_SUCCESS = {"getVideoContent": ("200", "ContentUrlResponse")}
SUCCESS = {
    "createVideo": ("202", "VideoJobResponse"),
    "listVideos": ("200", "VideoJobListResponse"),
    "getVideo": ("200", "VideoJobResponse"),
    "refreshVideoStatus": ("200", "VideoJobResponse"),
    "resetVideo": ("200", "VideoJobResponse"),
    "cancelVideo": ("200", "VideoJobResponse"),
    "getVideoContent": ("302", None),
    "listWebhookDeliveries": ("200", "WebhookDeliveryListResponse"),
    "replayWebhook": ("202", "ReplayWebhookResponse"),
    "createImageUpload": ("201", "ImageUploadResponse"),
    "listModels": ("200", "ModelListResponse"),
    "getStats": ("200", "StatsResponse"),
    "receiveOpenAIWebhook": ("200", "ProviderWebhookAnswer"),
    "receiveFalWebhook": ("200", "ProviderWebhookAnswer"),
    "runDoctor": ("200", "DoctorResponse"),
    "listVideoAttempts": ("200", "AttemptListResponse"),
}


@pytest.fixture
def document(world: World) -> dict[str, Any]:
    response = world.call("read_api", http_event("read_api_openapi", owner=None))
    assert response.status == 200
    served: dict[str, Any] = response.body
    return served


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_has_its_readable_operation_id(document):
    served = {(method, path): operation["operationId"] for method, path, operation in operations(document)}

    assert served == OPERATION_IDS


def test_the_bearer_jwt_scheme_is_on_exactly_the_operations_the_jwt_authorizer_guards(document):
    scheme = document["components"]["securitySchemes"]["bearerJwt"]
    needs_jwt = {(method.lower(), path): jwt for method, path, _, jwt in http_routes()}

    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for method, path, operation in operations(document):
        expected = [{"bearerJwt": []}] if needs_jwt[(method, path)] else None
        assert operation.get("security") == expected, (method, path)


def test_every_success_answer_names_its_model_and_every_error_the_error_envelope(document):
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}
    # Where a deployed API Gateway may answer itself (its authorizer, throttling, its body limit, a crashed
    # function), the document says so: the envelope or API Gateway's {"message": ...}.
    envelope_or_gateway = {"anyOf": [envelope, {"$ref": "#/components/schemas/GatewayErrorResponse"}]}
    gateway_statuses = {"401", "413", "429", "500", "503", "4XX", "5XX"}
    for method, path, operation in operations(document):
        status, schema = SUCCESS[operation["operationId"]]
        responses = operation["responses"]
        also = ALSO_SUCCESS.get(operation["operationId"])
        successes = sorted([status, *([also[0]] if also else [])])
        assert sorted(code for code in responses if code.startswith(("2", "3"))) == successes, (method, path)
        if also:
            assert responses[also[0]]["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{also[1]}"
            }, (method, path)
        if schema is None:
            assert "content" not in responses[status] and "Location" in responses[status]["headers"]
        else:
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{schema}"
            }, (method, path)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                expected = envelope_or_gateway if code in gateway_statuses else envelope
                assert response["content"]["application/json"]["schema"] == expected, (method, path, code)
        assert {"4XX", "5XX", "422"} <= set(responses)


def test_the_examples_are_valid_answers_and_requests(document):
    schemas = document["components"]["schemas"]
    for example in schemas["SubmitVideoRequest"]["examples"]:
        SubmitVideoRequest.model_validate(example)
    for example in schemas["VideoJobResponse"]["examples"]:
        VideoJobResponse.model_validate(example)
    for _, _, operation in operations(document):
        for code, response in operation["responses"].items():
            for example in response.get("content", {}).get("application/json", {}).get("examples", {}).values():
                parsed = ErrorResponse.model_validate(example["value"])
                assert parsed.error.message.endswith("."), (operation["operationId"], code)


def test_status_headers_are_documented(document):
    created = document["paths"]["/videos"]["post"]["responses"]
    refreshed = document["paths"]["/videos/{id}/sora-status"]["get"]["responses"]

    assert "Location" in created["202"]["headers"] and "Retry-After" in created["429"]["headers"]
    assert "Retry-After" in refreshed["200"]["headers"]


def test_docs_page_is_swagger_ui_on_the_served_document_without_a_token(world, document):
    event = http_event("read_api_docs", owner=None)

    raw = world.call("read_api", event)

    assert raw.status == 200 and raw.headers["content-type"].startswith("text/html")
    assert raw.headers.get("content-encoding") == "gzip"  # 1.7 MB of Swagger UI, about a quarter compressed
    page = gzip.decompress(__import__("base64").b64decode(raw.body)).decode()
    assert "SwaggerUIBundle" in page and "persistAuthorization: true" in page
    start = page.index("spec: ") + len("spec: ")
    spec, _ = json.JSONDecoder().raw_decode(page[start:].replace("<\\/", "</"))
    assert spec == document
