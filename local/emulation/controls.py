"""Building an emulator's dataclasses (scenarios, faults) from the JSON of its HTTP controls."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

_Control = TypeVar("_Control")


def from_control_json(cls: type[_Control], data: dict[str, Any], what: str) -> _Control:
    """Builds `cls` from JSON, refusing unknown keys so typos in HTTP controls surface."""
    known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} field(s): {', '.join(unknown)}")
    return cls(**data)
