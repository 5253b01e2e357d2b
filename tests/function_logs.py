"""What the functions' Powertools log handler writes (stdout in Lambda), captured and parsed, for tests of what the
logs say."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sorajobs.observability import logger as function_logger


class FunctionLogs:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line written so far."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("message") == message]


@contextmanager
def captured_function_logs() -> Iterator[FunctionLogs]:
    logs = FunctionLogs()
    handler = function_logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    earlier = handler.setStream(logs.stream)
    try:
        yield logs
    finally:
        handler.setStream(earlier)
