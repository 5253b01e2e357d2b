"""Placeholder names and values for DynamoDB expressions."""

from __future__ import annotations

from typing import Any

from sorajobs.dal.job_items import serialize


class Expression:
    """Builds placeholder names and values for one DynamoDB expression."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, python_value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = python_value
        return placeholder

    def serialized_values(self) -> dict[str, Any]:
        return serialize(self.values)
