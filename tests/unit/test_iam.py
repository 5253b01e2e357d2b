"""Least privilege, enforced: each function's own role grants exactly the actions its code uses, on
exactly the resources it uses them on. Adding an action or a resource to template.yaml fails here
until EXPECTED says why the code needs it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import load_template

# Actions with no resource-level permissions, for which AWS accepts only Resource "*".
WILDCARD_RESOURCE_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})

TABLE = "JobsTable"
STORE_QUEUE = "StoreVideoQueue"
DELIVERY_QUEUE = "WebhookDeliveryQueue"
WEBHOOK_DLQ = "WebhookDeadLetterQueue"
VIDEO_OBJECTS = "VideosBucket/videos/*"
# Reference images: POST /uploads signs their upload; a create signs the URL the provider fetches one from.
UPLOADED_IMAGES = "VideosBucket/uploads/*"


def runtime(function: str) -> dict[str, set[str]]:
    """What every function needs to run: its own log group, and X-Ray tracing."""
    log_group = f"{function}LogGroup"
    return {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }


def index(*names: str) -> set[str]:
    return {f"{TABLE}/index/{name}" for name in names}


def consume(queue: str) -> dict[str, set[str]]:
    """What an SQS event source does with the function's role."""
    return {action: {queue} for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}


# Per function: action -> the resources (logical ids, with an ARN suffix where it is narrower) it is granted on.
# Every function that may call a provider reads whichever provider's key its jobs name.
PROVIDER_KEYS = {"OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"}

EXPECTED: dict[str, dict[str, set[str]]] = {
    # Jobs, counters and rate-budget items; idempotency records (put, update, delete of a failed try);
    # a create whose answer was lost is looked for by provider video before paying again (by_provider_video);
    # a create the provider answers as finished queues the store step.
    "SubmitFunction": {
        **runtime("SubmitFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:PutItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "dynamodb:DeleteItem": {TABLE},
        "dynamodb:Query": index("by_provider_video"),
        "sqs:SendMessage": {STORE_QUEUE},
        "secretsmanager:GetSecretValue": PROVIDER_KEYS,
        "s3:PutObject": {UPLOADED_IMAGES},
        "s3:GetObject": {UPLOADED_IMAGES},
    },
    "SoraStatusFunction": {
        **runtime("SoraStatusFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "sqs:SendMessage": {STORE_QUEUE},
        "secretsmanager:GetSecretValue": PROVIDER_KEYS,
    },
    # A reset with resubmit submits at once, like POST /videos.
    "ResetFunction": {
        **runtime("ResetFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "dynamodb:Query": index("by_provider_video"),
        "sqs:SendMessage": {STORE_QUEUE},
        "secretsmanager:GetSecretValue": PROVIDER_KEYS,
        "s3:GetObject": {UPLOADED_IMAGES},
    },
    # Read-only: jobs and counters, the owner indexes, and s3:GetObject, which presigned URLs are signed for.
    "ReadApiFunction": {
        **runtime("ReadApiFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:Query": index("by_owner", "by_owner_status"),
        "s3:GetObject": {VIDEO_OBJECTS},
    },
    "PollSoraStatusFunction": {
        **runtime("PollSoraStatusFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "dynamodb:Query": index("due", "by_provider_video"),
        "sqs:SendMessage": {STORE_QUEUE},
        "secretsmanager:GetSecretValue": PROVIDER_KEYS,
        "s3:GetObject": {UPLOADED_IMAGES},
    },
    # Multipart upload (PutObject covers create, parts and complete), abort on failure, HeadObject (GetObject);
    # each try lists the unfinished uploads in its attempt's folder and aborts them (so does a request for a
    # stored or abandoned attempt).
    "StoreVideoFunction": {
        **runtime("StoreVideoFunction"),
        **consume(STORE_QUEUE),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "s3:PutObject": {VIDEO_OBJECTS},
        "s3:AbortMultipartUpload": {VIDEO_OBJECTS},
        "s3:GetObject": {VIDEO_OBJECTS},
        "s3:ListBucketMultipartUploads": {"VideosBucket"},
        "secretsmanager:GetSecretValue": PROVIDER_KEYS,
    },
    # The delivery log (index), replays (put the delivery, delete the endpoint's 410 record, queue the attempt).
    "WebhooksApiFunction": {
        **runtime("WebhooksApiFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:PutItem": {TABLE},
        "dynamodb:DeleteItem": {TABLE},
        "dynamodb:Query": index("webhooks_by_job"),
        "sqs:SendMessage": {DELIVERY_QUEUE},
    },
    # Seen-event records (put; delete when handling failed), the provider-video index, the job refresh.
    "ProviderWebhookFunction": {
        **runtime("ProviderWebhookFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:PutItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "dynamodb:DeleteItem": {TABLE},
        "dynamodb:Query": index("by_provider_video"),
        "sqs:SendMessage": {STORE_QUEUE},
        "secretsmanager:GetSecretValue": {"ProviderWebhookSecret", *PROVIDER_KEYS},
    },
    # The stream event source (read with the function's role) and its OnFailure destination.
    "WebhookEventsFunction": {
        **runtime("WebhookEventsFunction"),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:PutItem": {TABLE},
        "dynamodb:DescribeStream": {f"{TABLE}.StreamArn"},
        "dynamodb:GetRecords": {f"{TABLE}.StreamArn"},
        "dynamodb:GetShardIterator": {f"{TABLE}.StreamArn"},
        "dynamodb:ListStreams": {f"{TABLE}/stream/*"},
        "sqs:SendMessage": {DELIVERY_QUEUE, WEBHOOK_DLQ},
    },
    # Claims (update), disabled endpoints (get, put), saved attempts (put), the next attempt and dead letters.
    "DeliverWebhookFunction": {
        **runtime("DeliverWebhookFunction"),
        **consume(DELIVERY_QUEUE),
        "dynamodb:GetItem": {TABLE},
        "dynamodb:PutItem": {TABLE},
        "dynamodb:UpdateItem": {TABLE},
        "sqs:SendMessage": {DELIVERY_QUEUE, WEBHOOK_DLQ},
        "secretsmanager:GetSecretValue": {"WebhookSigningSecret"},
    },
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(template: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]
    assert isinstance(role, dict) and "Fn::GetAtt" in role, f"{function}: Role must be !GetAtt <its role>.Arn"
    name, attribute = role["Fn::GetAtt"]
    assert attribute == "Arn", function
    return name, template["Resources"][name]


def role_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])


def every_statement(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template (roles, bucket and queue policies)."""
    if isinstance(node, dict):
        if "Effect" in node and ({"Action", "NotAction"} & node.keys()):
            yield node
        for value in node.values():
            yield from every_statement(value)
    elif isinstance(node, list):
        for value in node:
            yield from every_statement(value)


def resource_name(template: dict[str, Any], resource: Any) -> str:
    """A statement's resource as `LogicalId`, `LogicalId.Attribute` or `LogicalId/arn-suffix`; "*" as is."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        return name if attribute == "Arn" else f"{name}.{attribute}"
    if isinstance(resource, dict) and "Ref" in resource:
        # Only a secret's Ref is its ARN; other resources' Refs are names, never valid in a policy.
        name = resource["Ref"]
        assert template["Resources"][name]["Type"] == "AWS::SecretsManager::Secret", f"!Ref {name} is not an ARN"
        return str(name)
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.+)", resource["Fn::Sub"])
        assert match, f"unexpected resource {resource}"
        return match.group(1) + match.group(2)
    raise AssertionError(f"unexpected resource {resource!r}: name a resource of this template")


def granted(template: dict[str, Any], function: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    _, role = role_of(template, function)
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow", statement
        assert {"NotAction", "NotResource", "Principal"}.isdisjoint(statement), statement
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                grants.setdefault(action, set()).add(resource_name(template, resource))
    return grants


def test_expected_names_every_function(template: dict[str, Any]) -> None:
    assert set(resources_of_type(template, "AWS::Serverless::Function")) == set(EXPECTED)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_function_is_granted_exactly_what_its_code_uses(template: dict[str, Any], function: str) -> None:
    assert granted(template, function) == EXPECTED[function]


def test_each_function_has_a_role_of_its_own_that_only_lambda_assumes(template: dict[str, Any]) -> None:
    roles = resources_of_type(template, "AWS::IAM::Role")
    used = []
    for function in EXPECTED:
        name, role = role_of(template, function)
        assert role["Type"] == "AWS::IAM::Role", function
        used.append(name)
        assert as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"]) == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ], name
    assert sorted(used) == sorted(set(used)), "two functions share a role"
    assert set(used) == set(roles), "a role no function uses"


def test_roles_carry_only_their_inline_policy(template: dict[str, Any]) -> None:
    # Managed policies (AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole, ...) grant on "*".
    for name, role in resources_of_type(template, "AWS::IAM::Role").items():
        assert set(role["Properties"]) <= {"Description", "AssumeRolePolicyDocument", "Policies"}, name
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
        assert resources_of_type(template, kind) == {}, f"grants outside the function roles: {kind}"


def test_no_sam_policy_templates_or_generated_roles(template: dict[str, Any]) -> None:
    # Policies on a function make SAM generate a role with managed policies on "*"; Role prevents that.
    assert "Policies" not in template["Globals"]["Function"]
    assert "Role" not in template["Globals"]["Function"]
    for function in EXPECTED:
        properties = template["Resources"][function]["Properties"]
        assert "Policies" not in properties, function
        assert "Role" in properties, function


def test_no_allow_statement_has_a_wildcard_action(template: dict[str, Any]) -> None:
    # Deny statements are exempt: the TLS-only bucket and queue policies deny every action over plain HTTP.
    for statement in every_statement(template):
        if statement["Effect"] == "Allow":
            assert "NotAction" not in statement, statement
            for action in as_list(statement["Action"]):
                assert "*" not in action, statement


def test_wildcard_resources_only_where_aws_requires_them(template: dict[str, Any]) -> None:
    for statement in every_statement(template):
        assert "NotResource" not in statement, statement
        if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource")):
            assert set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS, statement


def test_each_function_logs_to_the_group_its_role_may_write(template: dict[str, Any]) -> None:
    for function in EXPECTED:
        logging = template["Resources"][function]["Properties"]["LoggingConfig"]
        assert logging == {"LogGroup": {"Ref": f"{function}LogGroup"}}, function
        log_group = template["Resources"][f"{function}LogGroup"]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_event_sources_are_readable_with_the_function_role(template: dict[str, Any]) -> None:
    """What Lambda's pollers do with the execution role matches the function's events."""
    for function in EXPECTED:
        grants = granted(template, function)
        for event in template["Resources"][function]["Properties"].get("Events", {}).values():
            props = event["Properties"]
            if event["Type"] == "SQS":
                queue = resource_name(template, props["Queue"])
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    assert queue in grants.get(action, set()), (function, action)
            if event["Type"] == "DynamoDB":
                stream = resource_name(template, props["Stream"])
                for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
                    assert stream in grants.get(action, set()), (function, action)
                destination = props["DestinationConfig"]["OnFailure"]["Destination"]
                assert resource_name(template, destination) in grants["sqs:SendMessage"], function


def test_queried_indexes_exist_on_the_table(template: dict[str, Any]) -> None:
    indexes = {index["IndexName"] for index in template["Resources"][TABLE]["Properties"]["GlobalSecondaryIndexes"]}
    for function, grants in EXPECTED.items():
        for resource in grants.get("dynamodb:Query", set()):
            assert resource.removeprefix(f"{TABLE}/index/") in indexes, (function, resource)


def test_stored_objects_live_under_the_granted_prefix() -> None:
    from sorajobs.logic.store import object_key

    class _Job:
        id = "job_1"
        attempt = 1

    for variant in ("video", "thumbnail"):
        key = object_key(_Job(), variant)
        assert f"VideosBucket/{key}".startswith(VIDEO_OBJECTS.removesuffix("*")), key
