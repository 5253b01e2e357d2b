"""Messages between functions."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StoreVideoMessage(BaseModel):
    """Asks the store-video step to copy a finished generation into S3."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: Annotated[str, Field(min_length=1)]
    provider_video_id: Annotated[str, Field(min_length=1)]
    attempt: Annotated[int, Field(ge=1)]
