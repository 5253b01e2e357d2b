"""`make user EMAIL=someone@example.com [ADMIN=1]`: a user of the deployed stack's Cognito user pool.

The pool is found through the stack's outputs (`UserPoolId`, `UserPoolClientId`), the stack and region through
samconfig.toml (what `make deploy` saved). Cognito emails the user a temporary password, which the first sign-in
replaces. Self sign-up is off (every job costs money), so this is how users are made.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ops.samconfig import deploy_target

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class UserCreationRefused(Exception):
    """Why no user was made, in a sentence that says what to do."""


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str
    admin_group: str


def user_pool_of(cloudformation: Any, stack_name: str) -> UserPool:
    """The stack's user pool, from its outputs; refused when the stack is missing or uses another issuer."""
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise UserCreationRefused(
            f"No stack {stack_name!r} here ({error.response['Error']['Message']}); deploy with `make deploy`, "
            "or name it with STACK=… (and the region with AWS_REGION)."
        ) from error
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}
    if "UserPoolId" not in outputs:
        raise UserCreationRefused(
            f"Stack {stack_name!r} has no user pool: it trusts the issuer {parameters.get('JwtIssuer') or '(unknown)'} "
            "(JwtIssuer), so create users there."
        )
    return UserPool(outputs["UserPoolId"], outputs["UserPoolClientId"], parameters.get("AdminGroup") or "admins")


def create_user(cognito: Any, pool: UserPool, email: str, *, admin: bool = False) -> dict[str, Any]:
    """admin-create-user with the email as user name and verified address; Cognito mails a temporary password."""
    try:
        user: dict[str, Any] = cognito.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            DesiredDeliveryMediums=["EMAIL"],
        )["User"]
    except cognito.exceptions.UsernameExistsException as exists:
        raise UserCreationRefused(f"{email} is already a user of {pool.pool_id}.") from exists
    except cognito.exceptions.InvalidParameterException as invalid:
        raise UserCreationRefused(f"Cognito refused {email!r}: {invalid.response['Error']['Message']}") from invalid
    if admin:
        cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=pool.admin_group)
    return user


def sign_in_hint(pool: UserPool, email: str, region: str) -> str:
    return "\n".join(
        [
            f"Created {email} in {pool.pool_id}; Cognito has emailed a temporary password.",
            "The first sign-in sets a permanent one (NEW_PASSWORD_REQUIRED), then gives the ID token the API takes:",
            f"  aws cognito-idp initiate-auth --region {region} --auth-flow USER_PASSWORD_AUTH "
            f"--client-id {pool.client_id} --auth-parameters USERNAME={email},PASSWORD='<temporary password>'",
        ]
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    target = deploy_target()
    parser = argparse.ArgumentParser(prog="make user", description=__doc__.split("\n\n")[0])
    parser.add_argument("--email", required=True, help="the user's email address, also their user name")
    parser.add_argument("--admin", action="store_true", help="also add them to the AdminGroup (all owners' /stats)")
    parser.add_argument("--stack", default=target.stack_name, help=f"stack name (default {target.stack_name})")
    parser.add_argument("--region", default=target.region, help="region (default: samconfig.toml's, else AWS_REGION)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    import boto3

    args = _parse_args(argv)
    session = session or boto3.session.Session(region_name=args.region)
    try:
        pool = user_pool_of(session.client("cloudformation"), args.stack)
        create_user(session.client("cognito-idp"), pool, args.email, admin=args.admin)
    except UserCreationRefused as refused:
        print(refused, file=sys.stderr)
        return EXIT_REFUSED
    print(sign_in_hint(pool, args.email, session.region_name))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
