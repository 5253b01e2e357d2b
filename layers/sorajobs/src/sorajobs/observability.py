"""The Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_* settings)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore is patched: auto-patching would import requests and httpx at every cold start, and the
# openai SDK sends through httpx2, which X-Ray does not patch anyway.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()
