"""Creates the stack's AWS resources (from template.yaml) in any AWS endpoint: moto in-process or moto server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.template import resource

TABLE_NAME = "sora-jobs"
BUCKET_NAME = "sora-jobs-videos"
QUEUE_NAME = "sora-jobs-store-video"
DEAD_LETTER_QUEUE_NAME = "sora-jobs-store-video-dlq"
SECRET_NAME = "sora-jobs/openai-api-key"  # noqa: S105 - the name of the secret, not its value


@dataclass(frozen=True)
class StackResources:
    table_name: str
    bucket_name: str
    queue_url: str
    dead_letter_queue_url: str
    secret_name: str

    def environment(self) -> dict[str, str]:
        """The function environment variables that point at these resources."""
        return {
            "JOBS_TABLE_NAME": self.table_name,
            "VIDEOS_BUCKET_NAME": self.bucket_name,
            "STORE_VIDEO_QUEUE_URL": self.queue_url,
            "OPENAI_API_KEY_SECRET_NAME": self.secret_name,
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


def create_stack_resources(session: Any, *, openai_api_key: str = "sk-local-emulator") -> StackResources:
    """Creates the table, bucket, queues and secret the functions use; returns their names."""
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(**_table_definition())
    ttl = resource("JobsTable")["Properties"]["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=TABLE_NAME, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
    )

    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET_NAME)

    sqs = session.client("sqs")
    dlq_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE_NAME)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_properties = resource("StoreVideoQueue")["Properties"]
    max_receives = queue_properties["RedrivePolicy"]["maxReceiveCount"]
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(queue_properties.get("VisibilityTimeout", 30)),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        },
    )["QueueUrl"]

    secrets = session.client("secretsmanager")
    secrets.create_secret(Name=SECRET_NAME, SecretString=openai_api_key)
    return StackResources(
        table_name=TABLE_NAME,
        bucket_name=BUCKET_NAME,
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        secret_name=SECRET_NAME,
    )
