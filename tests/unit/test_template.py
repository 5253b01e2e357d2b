"""Rules the SAM template must keep: auth on every route, least-privilege policies, and the data shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sorajobs.config import Settings
from tests.unit.test_iam import WILDCARD_RESOURCE_ACTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# The provider's webhooks are authenticated by their Standard Webhooks signature instead of a JWT.
PUBLIC_ROUTES = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/console"),
    ("GET", "/console/{file}"),
    ("POST", "/provider-webhooks/openai"),
    ("POST", "/provider-webhooks/fal"),
}
EXPECTED_ROUTES = {
    ("POST", "/videos"),
    ("GET", "/videos/{id}/sora-status"),
    ("POST", "/videos/{id}/reset"),
    ("GET", "/videos"),
    ("GET", "/videos/{id}"),
    ("GET", "/videos/{id}/attempts"),
    ("GET", "/videos/{id}/content"),
    ("GET", "/stats"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/console"),
    ("GET", "/console/{file}"),
    ("GET", "/videos/{id}/webhooks"),
    ("POST", "/videos/{id}/webhooks/replay"),
    ("POST", "/provider-webhooks/openai"),
    ("POST", "/provider-webhooks/fal"),
    ("GET", "/models"),
    ("POST", "/videos/{id}/cancel"),
    ("POST", "/uploads"),
    ("GET", "/doctor"),
}
# The secrets each function may read; every other function reads none.
SECRETS_READ_BY = {
    "SubmitFunction": ["OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "SoraStatusFunction": ["OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "ResetFunction": ["OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "PollSoraStatusFunction": ["OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "StoreVideoFunction": ["OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "ProviderWebhookFunction": ["ProviderWebhookSecret", "OpenAIApiKeySecret", "FalKeySecret", "RunwayApiKeySecret"],
    "DeliverWebhookFunction": ["WebhookSigningSecret"],
}


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation short tags (!Ref, !Sub, !GetAtt, ...) as their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with TEMPLATE_PATH.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=CloudFormationLoader)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::Serverless::Function")


def http_routes(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(function name, "METHOD /path" or "$default", event properties) for every HttpApi event."""
    for name, function in functions(template).items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                route = f"{props['Method'].upper()} {props['Path']}" if "Path" in props else "$default"
                yield name, route, props


def policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template (inline function policies, bucket and queue policies)."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from policy_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from policy_statements(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any], function_name: str) -> list[dict[str, Any]]:
    """The statements of a function's own role (`Role: !GetAtt <role>.Arn`)."""
    role_name = template["Resources"][function_name]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role_name]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def test_every_function_has_its_own_code_uri_under_functions(template: dict[str, Any]) -> None:
    for name, function in functions(template).items():
        code_uri = function["Properties"].get("CodeUri")
        assert isinstance(code_uri, str), f"{name} has no CodeUri and would ship the whole repository"
        assert re.fullmatch(r"functions/[a-z_]+/", code_uri), f"{name}: {code_uri}"
        assert (REPO_ROOT / code_uri / "app.py").is_file(), f"{name}: no handler in {code_uri}"


def test_runtime_and_architecture_come_from_globals(template: dict[str, Any]) -> None:
    defaults = template["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.13"
    assert defaults["Architectures"] == ["arm64"]
    for name, function in functions(template).items():
        assert "Runtime" not in function["Properties"], name
        assert "Architectures" not in function["Properties"], name


def test_functions_build_with_the_functions_makefile(template: dict[str, Any]) -> None:
    makefile = (REPO_ROOT / "functions" / "Makefile").read_text(encoding="utf-8")
    for name, function in functions(template).items():
        build = {key: function["Metadata"][key] for key in ("BuildMethod", "ContextPath")}
        assert build == {"BuildMethod": "makefile", "ContextPath": "functions"}, name
        assert f"build-{name}" in makefile, f"functions/Makefile has no build-{name} target"


def test_layer_builds_with_its_makefile(template: dict[str, Any]) -> None:
    layer = template["Resources"]["SoraJobsLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layers/sorajobs"
    makefile = (REPO_ROOT / "layers" / "sorajobs" / "Makefile").read_text(encoding="utf-8")
    assert "build-SoraJobsLayer:" in makefile


def test_routes_are_exactly_the_documented_ones(template: dict[str, Any]) -> None:
    routes = [route for _, route, _ in http_routes(template)]
    assert len(routes) == len(set(routes)), "a route is declared twice"
    assert set(routes) == {f"{method} {path}" for method, path in EXPECTED_ROUTES} | {"$default"}


def test_whatever_matches_no_route_reaches_the_read_function_without_a_token(template: dict[str, Any]) -> None:
    # So an unknown path or method is answered in the error envelope, not by API Gateway's {"message": "Not Found"}.
    [(name, props)] = [(name, props) for name, route, props in http_routes(template) if route == "$default"]

    assert name == "ReadApiFunction" and set(props) == {"ApiId", "Auth"}
    assert props["Auth"] == {"Authorizer": "NONE"}


def test_jwt_authorizer_is_the_api_default(template: dict[str, Any]) -> None:
    auth = template["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtAuthorizer"
    authorizer = auth["Authorizers"]["JwtAuthorizer"]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert set(authorizer["JwtConfiguration"]) == {"issuer", "audience"}


def test_every_route_except_the_public_ones_uses_the_default_jwt_authorizer(template: dict[str, Any]) -> None:
    public = {f"{method} {path}" for method, path in PUBLIC_ROUTES} | {"$default"}
    for name, route, props in http_routes(template):
        if route in public:
            assert props.get("Auth") == {"Authorizer": "NONE"}, route
        else:
            assert "Auth" not in props, f"{name} {route} overrides the default authorizer"


def test_openapi_json_is_public(template: dict[str, Any]) -> None:
    auth = {route: props.get("Auth") for _, route, props in http_routes(template)}
    assert auth["GET /openapi.json"] == {"Authorizer": "NONE"}


def test_no_catch_all_proxy_route(template: dict[str, Any]) -> None:
    for name, route, _ in http_routes(template):
        assert "+}" not in route, f"{name} declares the catch-all route {route}"


def test_read_api_policies_are_read_only(template: dict[str, Any]) -> None:
    # Its role may also write its own logs and traces; tests/unit/test_iam.py pins every action.
    statements = role_statements(template, "ReadApiFunction")
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    data_actions = {action for action in actions if not action.startswith(("logs:", "xray:"))}
    assert data_actions == {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject"}


def test_each_function_reads_only_the_secrets_it_uses(template: dict[str, Any]) -> None:
    for name in functions(template):
        read = [
            resource
            for statement in role_statements(template, name)
            if any(action.startswith("secretsmanager:") for action in as_list(statement["Action"]))
            for resource in as_list(statement["Resource"])
        ]
        assert read == [{"Ref": secret} for secret in SECRETS_READ_BY.get(name, [])], name


def test_no_policy_statement_has_a_wildcard_resource(template: dict[str, Any]) -> None:
    # Except X-Ray's trace actions, which have no resource-level permissions (AWS requires "*").
    for statement in policy_statements(template):
        if set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS:
            continue
        assert "*" not in as_list(statement.get("Resource")), statement
        assert "NotResource" not in statement, statement


def test_no_allow_statement_has_a_wildcard_action(template: dict[str, Any]) -> None:
    # Deny statements are exempt: the TLS-only bucket and queue policies deny every action.
    for statement in policy_statements(template):
        if statement["Effect"] == "Allow":
            assert "NotAction" not in statement, statement
            for action in as_list(statement["Action"]):
                assert "*" not in action, statement


def test_jobs_table_has_its_indexes_with_their_keys(template: dict[str, Any]) -> None:
    table = template["Resources"]["JobsTable"]["Properties"]
    indexes = {
        index["IndexName"]: (
            [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "by_owner": ([("owner", "HASH"), ("created_key", "RANGE")], "ALL"),
        "by_owner_status": ([("owner_status", "HASH"), ("created_key", "RANGE")], "ALL"),
        "due": ([("due_shard", "HASH"), ("next_poll_at", "RANGE")], "KEYS_ONLY"),
        "by_provider_video": ([("provider_video_id", "HASH")], "KEYS_ONLY"),
        "webhooks_by_job": ([("webhook_job", "HASH"), ("webhook_key", "RANGE")], "ALL"),
    }
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_jobs_table_has_point_in_time_recovery(template: dict[str, Any]) -> None:
    table = template["Resources"]["JobsTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_jobs_table_properties_are_intrinsic_free(template: dict[str, Any]) -> None:
    # The local stack creates the table in moto straight from these Properties.
    def intrinsics(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            yield from (key for key in node if key == "Ref" or key.startswith("Fn::"))
            for value in node.values():
                yield from intrinsics(value)
        elif isinstance(node, list):
            for value in node:
                yield from intrinsics(value)

    table = template["Resources"]["JobsTable"]["Properties"]
    assert list(intrinsics(table)) == []
    assert "TableName" not in table


def test_videos_bucket_blocks_public_access(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["VideosBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_videos_bucket_aborts_incomplete_multipart_uploads(template: dict[str, Any]) -> None:
    rules = template["Resources"]["VideosBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        for rule in rules
        if rule["Status"] == "Enabled" and "AbortIncompleteMultipartUpload" in rule
    } == {1}


def test_sweep_runs_every_minute_on_schedule_v2(template: dict[str, Any]) -> None:
    events = template["Resources"]["PollSoraStatusFunction"]["Properties"]["Events"]
    (schedule,) = events.values()
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["Properties"]["FlexibleTimeWindow"] == {"Mode": "OFF"}


def test_store_queue_redrives_to_a_dead_letter_queue(template: dict[str, Any]) -> None:
    redrive = template["Resources"]["StoreVideoQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["StoreVideoDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] >= 1


def test_store_queue_retries_fit_inside_the_providers_download_window(template: dict[str, Any]) -> None:
    # A message is invisible for longer than one store attempt can run, and all receives before the
    # dead-letter queue fit in the hour the provider keeps a finished video downloadable.
    queue = template["Resources"]["StoreVideoQueue"]["Properties"]
    store_timeout = template["Resources"]["StoreVideoFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] > store_timeout
    assert queue["VisibilityTimeout"] * queue["RedrivePolicy"]["maxReceiveCount"] <= 3600


def test_videos_bucket_is_encrypted_at_rest(template: dict[str, Any]) -> None:
    encryption = template["Resources"]["VideosBucket"]["Properties"]["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}


def test_videos_bucket_policy_denies_every_request_without_tls(template: dict[str, Any]) -> None:
    policy = template["Resources"]["VideosBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "VideosBucket"}
    assert {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [{"Fn::GetAtt": ["VideosBucket", "Arn"]}, {"Fn::Sub": "${VideosBucket.Arn}/*"}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in policy["PolicyDocument"]["Statement"]


def test_videos_bucket_owner_owns_every_object(template: dict[str, Any]) -> None:
    # BucketOwnerEnforced turns ACLs off: access is decided by IAM and the bucket policy alone.
    ownership = template["Resources"]["VideosBucket"]["Properties"]["OwnershipControls"]
    assert ownership == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_stored_videos_expire_after_the_configured_retention(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["VideoRetentionDays"]
    assert parameter["Type"] == "Number"
    assert parameter["MinValue"] == 1
    assert parameter["Default"] >= 1
    bucket = template["Resources"]["VideosBucket"]["Properties"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"] if rule["Status"] == "Enabled"}
    expire = rules["ExpireStoredVideos"]
    assert expire["ExpirationInDays"] == {"Ref": "VideoRetentionDays"}
    assert expire["Prefix"] == "videos/"
    # Versioning is on, so a deleted or expired video leaves a noncurrent version: it expires too.
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True


def test_presigned_urls_live_at_most_fifteen_minutes(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["ContentUrlTtlSeconds"]
    assert parameter["MaxValue"] <= 900
    assert parameter["Default"] <= parameter["MaxValue"]
    assert template["Globals"]["Function"]["Environment"]["Variables"]["CONTENT_URL_TTL_SECONDS"] == {
        "Ref": "ContentUrlTtlSeconds"
    }
    assert Settings(jobs_table_name="t", content_url_ttl_seconds=900).content_url_ttl_seconds == 900
    with pytest.raises(ValueError, match="less than or equal to 900"):
        Settings(jobs_table_name="t", content_url_ttl_seconds=901)


def test_webhook_url_allowed_hosts_reach_the_functions(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["WebhookUrlAllowedHosts"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == ""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WEBHOOK_URL_ALLOWED_HOSTS"] == {"Ref": "WebhookUrlAllowedHosts"}


def test_the_console_signs_in_with_the_stacks_own_app_client_and_its_address_is_an_output(
    template: dict[str, Any],
) -> None:
    read_api = template["Resources"]["ReadApiFunction"]["Properties"]
    assert read_api["Environment"]["Variables"]["CONSOLE_COGNITO_CLIENT_ID"] == {
        "Fn::If": ["CreateUserPool", {"Ref": "UserPoolClient"}, ""]
    }
    assert template["Outputs"]["ConsoleUrl"]["Value"]["Fn::Sub"].endswith("/console")


def test_http_api_writes_access_logs_to_its_log_group(template: dict[str, Any]) -> None:
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in settings["Format"]
    assert template["Resources"]["HttpApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }


def test_checkov_suppressions_give_a_reason(template: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert len(skip.get("comment", "")) >= 40, f"{name}: {skip['id']} needs its reason"
