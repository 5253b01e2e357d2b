"""Creates the stack's AWS resources (from template.yaml) in any AWS endpoint: moto in-process or moto server."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.template import resource

if TYPE_CHECKING:
    from sorajobs.config import Settings

TABLE_NAME = "sora-jobs"
BUCKET_NAME = "sora-jobs-videos"
QUEUE_NAME = "sora-jobs-store-video"
DEAD_LETTER_QUEUE_NAME = "sora-jobs-store-video-dlq"
SECRET_NAME = "sora-jobs/openai-api-key"  # noqa: S105 - the name of the secret, not its value
WEBHOOK_QUEUE_NAME = "sora-jobs-webhook-delivery"
WEBHOOK_DEAD_LETTER_QUEUE_NAME = "sora-jobs-webhook-dlq"
WEBHOOK_SIGNING_SECRET_NAME = "sora-jobs/webhook-signing-secret"  # noqa: S105 - a name
PROVIDER_WEBHOOK_SECRET_NAME = "sora-jobs/provider-webhook-secret"  # noqa: S105 - a name
FAL_KEY_SECRET_NAME = "sora-jobs/fal-key"  # noqa: S105 - a name
RUNWAY_KEY_SECRET_NAME = "sora-jobs/runway-api-key"  # noqa: S105 - a name


def new_whsec() -> str:
    """A fresh Standard Webhooks secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class StackResources:
    table_name: str
    bucket_name: str
    queue_url: str
    dead_letter_queue_url: str
    secret_name: str
    webhook_queue_url: str
    webhook_dead_letter_queue_url: str
    # The secrets' values too, for the receivers and the provider emulator of local runs and tests.
    webhook_signing_secret: str
    provider_webhook_secret: str
    fal_secret_name: str = FAL_KEY_SECRET_NAME
    runway_secret_name: str = RUNWAY_KEY_SECRET_NAME

    def settings(self, **changes: Any) -> Settings:
        """The backend's settings over these resources, as a function given `environment()` reads them, with
        `changes`: what the test world, the benchmarks and the chaos suite all start from."""
        from sorajobs.config import Settings

        return Settings.model_validate({**Settings.from_env(self.environment()).model_dump(), **changes})

    def environment(self) -> dict[str, str]:
        """The function environment variables that point at these resources."""
        return {
            "JOBS_TABLE_NAME": self.table_name,
            "VIDEOS_BUCKET_NAME": self.bucket_name,
            "STORE_VIDEO_QUEUE_URL": self.queue_url,
            "OPENAI_API_KEY_SECRET_NAME": self.secret_name,
            "WEBHOOK_DELIVERY_QUEUE_URL": self.webhook_queue_url,
            "WEBHOOK_DEAD_LETTER_QUEUE_URL": self.webhook_dead_letter_queue_url,
            "WEBHOOK_SIGNING_SECRET_NAME": WEBHOOK_SIGNING_SECRET_NAME,
            "PROVIDER_WEBHOOK_SECRET_NAME": PROVIDER_WEBHOOK_SECRET_NAME,
            "FAL_KEY_SECRET_NAME": self.fal_secret_name,
            "RUNWAY_API_KEY_SECRET_NAME": self.runway_secret_name,
        }


def _table_definition() -> dict[str, Any]:
    properties = resource("JobsTable")["Properties"]
    definition: dict[str, Any] = {
        "TableName": TABLE_NAME,
        "BillingMode": properties["BillingMode"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"],
    }
    if "StreamSpecification" in properties:
        definition["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    return definition


def _queue_with_dead_letter(sqs: Any, name: str, dead_letter_name: str, logical_id: str) -> tuple[str, str]:
    """A queue and its dead-letter queue, with the template's visibility timeout and receive count."""
    dlq_url = sqs.create_queue(QueueName=dead_letter_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    properties = resource(logical_id)["Properties"]
    max_receives = properties["RedrivePolicy"]["maxReceiveCount"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(properties.get("VisibilityTimeout", 30)),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def create_stack_resources(
    session: Any,
    *,
    openai_api_key: str = "sk-local-emulator",
    fal_key: str = "fal-local:emulator",
    runway_api_key: str = "key_local_emulator",
    webhook_signing_secret: str | None = None,
    provider_webhook_secret: str | None = None,
) -> StackResources:
    """Creates the table, bucket, queues and secrets the functions use; returns their names."""
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(**_table_definition())
    ttl = resource("JobsTable")["Properties"]["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=TABLE_NAME, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
    )

    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET_NAME)

    sqs = session.client("sqs")
    queue_url, dlq_url = _queue_with_dead_letter(sqs, QUEUE_NAME, DEAD_LETTER_QUEUE_NAME, "StoreVideoQueue")
    webhook_queue_url, webhook_dlq_url = _queue_with_dead_letter(
        sqs, WEBHOOK_QUEUE_NAME, WEBHOOK_DEAD_LETTER_QUEUE_NAME, "WebhookDeliveryQueue"
    )

    signing_secret = webhook_signing_secret or new_whsec()
    provider_secret = provider_webhook_secret or new_whsec()
    secrets_manager = session.client("secretsmanager")
    secrets_manager.create_secret(Name=SECRET_NAME, SecretString=openai_api_key)
    secrets_manager.create_secret(Name=WEBHOOK_SIGNING_SECRET_NAME, SecretString=signing_secret)
    secrets_manager.create_secret(Name=PROVIDER_WEBHOOK_SECRET_NAME, SecretString=provider_secret)
    secrets_manager.create_secret(Name=FAL_KEY_SECRET_NAME, SecretString=fal_key)
    secrets_manager.create_secret(Name=RUNWAY_KEY_SECRET_NAME, SecretString=runway_api_key)
    return StackResources(
        table_name=TABLE_NAME,
        bucket_name=BUCKET_NAME,
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        secret_name=SECRET_NAME,
        webhook_queue_url=webhook_queue_url,
        webhook_dead_letter_queue_url=webhook_dlq_url,
        webhook_signing_secret=signing_secret,
        provider_webhook_secret=provider_secret,
    )
