"""Opaque page cursors: a query's LastEvaluatedKey, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sorajobs.dal.job_items import deserialize, serialize
from sorajobs.models.errors import InvalidCursor


def encode_cursor(last_key: dict[str, Any]) -> str:
    raw = json.dumps(deserialize(last_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, partition_attr: str, partition_value: str, *, sort_attr: str) -> dict[str, Any]:
    """The ExclusiveStartKey of a cursor this API returned for the same listing; else InvalidCursor."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise InvalidCursor("The cursor is not one this API returned.") from error
    expected = {"pk", sort_attr, partition_attr}
    if (
        not isinstance(decoded, dict)
        or not expected <= decoded.keys()
        or not all(isinstance(value, str) for value in decoded.values())
        or decoded[partition_attr] != partition_value
    ):
        raise InvalidCursor("The cursor is not one this API returned for this listing.")
    return serialize({name: decoded[name] for name in expected | ({"owner"} & decoded.keys())})
