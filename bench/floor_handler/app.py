"""The cold-start benchmark's floor: the least a function of this design does on its first request.

boto3 imported and a DynamoDB client built at the top, then one strongly consistent GetItem on the jobs table
per request. Every function reads or writes that table through boto3, so none can start cheaper than this;
its ratio to the naive baseline is the lowest ratio any of them could reach. It runs from the same built layer.
"""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    found = dynamodb.get_item(
        TableName=os.environ["JOBS_TABLE_NAME"], Key={"pk": {"S": "JOB#floor"}}, ConsistentRead=True
    )
    return {"statusCode": 200 if "Item" in found else 404}
