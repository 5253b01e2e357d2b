"""Parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

JobIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The job id (`job_…`).")]
