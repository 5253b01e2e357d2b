"""The cold-start benchmark's naive baseline: POST /videos written the common way, as one module.

Everything is imported and built at the top (boto3, openai, pydantic, the clients, the provider key read from
Secrets Manager), then each request validates the body, creates the generation at the provider and records
the job in the table: the work the submit function does on its first request, without its care for imports.
It runs from the same built layer as the functions (its libraries come from there).
"""

import json
import os
import uuid

import boto3
import openai
from pydantic import BaseModel, Field

dynamodb = boto3.client("dynamodb")
secrets = boto3.client("secretsmanager")
api_key = secrets.get_secret_value(SecretId=os.environ["OPENAI_API_KEY_SECRET_NAME"])["SecretString"]
provider = openai.OpenAI(api_key=api_key, base_url=os.environ["OPENAI_BASE_URL"], max_retries=0)


class SubmitRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)
    model: str = "sora-2"
    seconds: str = "4"
    size: str = "720x1280"


def lambda_handler(event, context):
    request = SubmitRequest.model_validate_json(event["body"])
    video = provider.videos.create(
        prompt=request.prompt, model=request.model, seconds=request.seconds, size=request.size
    )
    job_id = f"naive_{uuid.uuid4().hex}"
    dynamodb.put_item(
        TableName=os.environ["JOBS_TABLE_NAME"],
        Item={"pk": {"S": job_id}, "provider_video_id": {"S": video.id}, "status": {"S": video.status}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    return {"statusCode": 202, "body": json.dumps({"id": job_id, "status": video.status})}
