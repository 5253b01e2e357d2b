"""How long a server asks us to wait: Retry-After (RFC 9110, seconds or an HTTP date) and OpenAI's retry-after-ms.

A bottom-layer module (the standard library only), shared by the provider client, webhook delivery and the
local demo; each caller applies its own cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Delta-seconds, with a fraction allowed as the openai SDK allows it; no sign, exponent, inf or nan.
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds, or an HTTP date (0 when it has passed).

    None when the value is absent, negative or not either form.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" (RFC 5322's unknown zone) parses naive; HTTP dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from a response's headers: ``retry-after-ms`` (OpenAI's, milliseconds) when it is
    valid, else ``Retry-After``; None when neither says."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None and _SECONDS.fullmatch(milliseconds.strip()):
        return float(milliseconds) / 1000
    return parse_retry_after(headers.get("retry-after"), now)
