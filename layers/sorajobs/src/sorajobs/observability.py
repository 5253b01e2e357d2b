"""The Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_* settings)."""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
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
