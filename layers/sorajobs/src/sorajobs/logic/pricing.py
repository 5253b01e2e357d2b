"""Estimated cost of a generation from the configured price table (model, seconds and size)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sorajobs.models.job import Job

WILDCARD = "*"


def estimate_cost_cents(price_table: Mapping[str, Mapping[str, float]], *, model: str, seconds: str, size: str) -> int:
    """Cents, rounded up; a model or size missing from the table falls back to its `*` entry, else 0."""
    by_size = price_table.get(model) or price_table.get(WILDCARD) or {}
    per_second = by_size.get(size, by_size.get(WILDCARD, 0.0))
    cents = round(per_second * int(seconds) * 100, 6)  # 0.1 * 8 * 100 is 80.00000000000001 in floats
    return math.ceil(cents)


def attempt_cost_cents(price_table: Mapping[str, Mapping[str, float]], job: Job) -> int:
    """The estimated cost of one attempt of the job: what a cancel, reset or refused create charges it."""
    return estimate_cost_cents(price_table, model=job.model, seconds=job.seconds, size=job.size)
