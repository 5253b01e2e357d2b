"""The Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_* settings)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
