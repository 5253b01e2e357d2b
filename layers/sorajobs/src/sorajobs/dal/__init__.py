"""Data access: the jobs table (DynamoDB), the videos bucket (S3) and the store queue (SQS)."""
