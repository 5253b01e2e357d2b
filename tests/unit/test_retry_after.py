"""The one Retry-After parser: delta-seconds, HTTP dates and OpenAI's retry-after-ms, as seconds to wait."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sorajobs.retry_after import parse_retry_after, retry_after_seconds

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Sat, 21 Nov 2026 12:10:00 GMT", 600.0),  # a date ahead: the time until it
        ("Sat, 21 Nov 2026 11:00:00 GMT", 0.0),  # a date passed: at once
        ("Saturday, 21-Nov-26 12:00:30 GMT", 30.0),  # the obsolete RFC 850 form
        ("Sat, 21 Nov 2026 12:00:05 -0000", 5.0),  # a date without a known zone is read as GMT
    ],
)
def test_a_retry_after_value_is_seconds_to_wait(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "+5", "1e3", "inf", "nan", "12 seconds", "0x10"])
def test_a_missing_negative_or_malformed_value_says_nothing(value):
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After-Ms": "1500", "Retry-After": "9"}, 1.5),  # milliseconds win when valid
        ({"retry-after-ms": "later", "retry-after": "9"}, 9.0),  # ... else Retry-After says
        ({"retry-after": "Sat, 21 Nov 2026 12:01:00 GMT"}, 60.0),
        ({"retry-after-ms": "-1"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_response_headers_give_milliseconds_first_then_retry_after(headers, seconds):
    assert retry_after_seconds(httpx.Headers(headers), NOW) == seconds
