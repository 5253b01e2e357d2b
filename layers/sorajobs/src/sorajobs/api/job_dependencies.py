"""The collaborators of the routes that submit, refresh, reset and cancel jobs (see dependencies.py)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends

from sorajobs.api.dependencies import WiringDep
from sorajobs.logic.jobs import JobService
from sorajobs.logic.submission import JobSubmission
from sorajobs.logic.uploads import ImageUploads


def job_service(wiring: WiringDep) -> JobService:
    return wiring.job_service


def job_submission(wiring: WiringDep) -> JobSubmission:
    return wiring.submission


def image_uploads(wiring: WiringDep) -> ImageUploads:
    return wiring.uploads


JobServiceDep = Annotated[JobService, Depends(job_service)]
JobSubmissionDep = Annotated[JobSubmission, Depends(job_submission)]
ImageUploadsDep = Annotated[ImageUploads, Depends(image_uploads)]
