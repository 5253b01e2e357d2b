"""How the DAL tells a failed write condition from other DynamoDB errors."""

from __future__ import annotations

from botocore.exceptions import ClientError


def condition_failed(error: ClientError) -> bool:
    """A write's condition did not hold (alone, or as the reason a transaction was cancelled)."""
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return False
