"""The Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_* settings).

Every record the logger writes (message, extra keys, a logged event, exception text) passes through
``redact`` first, so credentials never reach the logs: values under keys that name a credential
(``Authorization`` in any case, ``webhook-signature``, ``*secret*``, ``*password*``, ``*api_key*``,
``*token*``, cookies) are replaced whole, and anything in any string that looks like a bearer token, a JWT,
a webhook secret (``whsec_…``), an OpenAI-style key (``sk-…``) or a webhook signature (``v1,…``) is masked.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

REDACTED = "[REDACTED]"
# Keys whose whole value is a credential, matched anywhere in the key and in any case.
SENSITIVE_KEY = re.compile(
    r"authorization|signature|secret|passw(?:or)?d|api[-_]?key|token|cookie|credential", re.IGNORECASE
)
# Credentials recognisable by their shape wherever they appear in text (a message, an error, a JSON body).
SENSITIVE_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(bearer)\s+[^\s\"',;]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),  # a JWT
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]*"), f"whsec_{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), f"sk-{REDACTED}"),
    (re.compile(r"\bv1a?,[A-Za-z0-9+/]{16,}={0,2}"), f"v1,{REDACTED}"),  # a Standard Webhooks signature
)
_SCALARS = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    for pattern, replacement in SENSITIVE_VALUES:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` (anything a log record may carry) with every credential masked.

    Never changes ``value`` itself: a logged event is still the handler's event.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if SENSITIVE_KEY.search(str(key)) and value[key] not in (None, "") else redact(value[key])
            for key in value
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact(dataclasses.asdict(value))
    model_dump = getattr(value, "model_dump", None)  # a pydantic model, judged by its fields
    if callable(model_dump):
        return redact(model_dump(mode="json"))
    # What the JSON serializer would write for it anyway (the formatter's json_default is str).
    return redact_text(str(value))


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with ``redact`` applied to the whole record before it is written."""

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(log=redact(log))


# Child loggers (Logger(child=True)) write through this logger's handler, hence through this formatter.
logger = Logger(logger_formatter=RedactingFormatter())
# Only botocore is patched: auto-patching would import requests and httpx at every cold start, and the
# openai SDK sends through httpx2, which X-Ray does not patch anyway.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

# The sweep's worker threads record metrics too; Powertools' metric set has no lock of its own and
# flushes itself when a metric reaches 100 values.
_metrics_lock = threading.Lock()


def record_metric(name: str, unit: MetricUnit, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)
