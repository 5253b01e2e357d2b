"""make user: a user of the deployed stack's Cognito pool, found through the stack's outputs (moto's cognito-idp and
CloudFormation stand in for the deployed stack)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops.create_user import EXIT_OK, EXIT_REFUSED, main
from ops.samconfig import DEFAULT_STACK_NAME, deploy_target

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _stack_template(with_pool: bool) -> str:
    """A stack with the outputs and parameters of template.yaml that `make user` reads."""
    parameters = {"AdminGroup": {"Type": "String"}, "JwtIssuer": {"Type": "String", "Default": ""}}
    outputs = {}
    if with_pool:
        parameters |= {"PoolId": {"Type": "String"}, "ClientId": {"Type": "String"}}
        outputs = {"UserPoolId": {"Value": {"Ref": "PoolId"}}, "UserPoolClientId": {"Value": {"Ref": "ClientId"}}}
    resources = {"Placeholder": {"Type": "AWS::SQS::Queue"}}
    return json.dumps({"Parameters": parameters, "Resources": resources, "Outputs": outputs})


@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        cognito = session.client("cognito-idp")
        pool_id = cognito.create_user_pool(PoolName="sora-jobs-users")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="sora-jobs-api")["UserPoolClient"][
            "ClientId"
        ]
        cognito.create_group(UserPoolId=pool_id, GroupName="operators")
        session.client("cloudformation").create_stack(
            StackName="sora-jobs",
            TemplateBody=_stack_template(with_pool=True),
            Parameters=[
                {"ParameterKey": "AdminGroup", "ParameterValue": "operators"},
                {"ParameterKey": "PoolId", "ParameterValue": pool_id},
                {"ParameterKey": "ClientId", "ParameterValue": client_id},
            ],
        )
        yield session, cognito, pool_id, client_id


def test_make_user_creates_the_user_in_the_stacks_pool_with_a_verified_email(aws, capsys):
    session, cognito, pool_id, client_id = aws

    code = main(["--email", "ada@example.com", "--stack", "sora-jobs"], session=session)

    assert code == EXIT_OK
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="ada@example.com")
    attributes = {item["Name"]: item["Value"] for item in user["UserAttributes"]}
    assert attributes["email"] == "ada@example.com" and attributes["email_verified"] == "true"
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username="ada@example.com")["Groups"] == []
    out = capsys.readouterr().out
    assert f"--client-id {client_id}" in out and "USERNAME=ada@example.com" in out


def test_an_admin_joins_the_stacks_admin_group(aws):
    session, cognito, pool_id, _ = aws

    assert main(["--email", "root@example.com", "--admin", "--stack", "sora-jobs"], session=session) == EXIT_OK

    groups = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username="root@example.com")["Groups"]
    assert [group["GroupName"] for group in groups] == ["operators"]


def test_an_existing_user_is_refused_in_one_line(aws, capsys):
    session, *_ = aws
    main(["--email", "ada@example.com", "--stack", "sora-jobs"], session=session)

    code = main(["--email", "ada@example.com", "--stack", "sora-jobs"], session=session)

    assert code == EXIT_REFUSED
    assert capsys.readouterr().err.strip() == "ada@example.com is already a user of " + aws[2] + "."


def test_a_missing_stack_or_one_without_a_pool_says_what_to_do(aws, capsys):
    session, *_ = aws
    session.client("cloudformation").create_stack(
        StackName="external-idp",
        TemplateBody=_stack_template(with_pool=False),
        Parameters=[
            {"ParameterKey": "AdminGroup", "ParameterValue": "admins"},
            {"ParameterKey": "JwtIssuer", "ParameterValue": "https://idp.example.com"},
        ],
    )

    assert main(["--email", "ada@example.com", "--stack", "nowhere"], session=session) == EXIT_REFUSED
    assert "make deploy" in capsys.readouterr().err
    assert main(["--email", "ada@example.com", "--stack", "external-idp"], session=session) == EXIT_REFUSED
    assert "https://idp.example.com" in capsys.readouterr().err


def test_the_stack_and_region_come_from_what_sam_deploy_saved(tmp_path):
    saved = tmp_path / "samconfig.toml"
    saved.write_text(
        '[default.global.parameters]\nstack_name = "sora-jobs"\n\n'
        '[default.deploy.parameters]\nstack_name = "videos-prod"\nregion = "eu-west-1"\n'
    )

    assert deploy_target(saved).stack_name == "videos-prod" and deploy_target(saved).region == "eu-west-1"
    assert deploy_target(tmp_path / "none.toml").stack_name == DEFAULT_STACK_NAME


def test_make_user_runs_the_tool_with_the_email_and_admin_flag():
    lines = subprocess.run(
        ["make", "--no-print-directory", "-n", "user", "EMAIL=ada@example.com", "ADMIN=1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()

    assert lines[-1].endswith("-m ops.create_user --email ada@example.com --admin")
