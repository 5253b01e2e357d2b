"""POST /videos/{id}/reset — abandon a stuck or failed generation, optionally starting a new attempt; and
POST /videos/{id}/cancel — end an unfinished one."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.caller import current_caller
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses
from sorajobs.logic.jobs import JobService
from sorajobs.logic.queries import JobQueries
from sorajobs.models.api import ResetVideoRequest, VideoJobResponse
from sorajobs.services import get_services

router = APIGatewayHttpRouter()


@router.post(
    "/videos/<id>/reset",
    summary="Reset a stuck or failed job",
    description="A completed job answers 409 and keeps its video. The abandoned attempt stays in the job's history.",
    operation_id="resetVideo",
    security=BEARER_JWT,
    responses={
        200: {"description": "The job, reset (or pending again, attempt + 1, with `resubmit`)."},
        **error_responses(400, 401, 404, 409, 413, 415, 422, 429, 500, 503),
    },
)
def reset_video(
    id: JobIdPath,
    request: Annotated[ResetVideoRequest, Body()] = ResetVideoRequest(),  # noqa: B008 - an immutable default
) -> VideoJobResponse:
    services = get_services()
    job = JobService(services).reset(current_caller(router).owner, id, resubmit=request.resubmit)
    return JobQueries(services).view(job)


@router.post(
    "/videos/<id>/cancel",
    summary="Cancel a pending, queued or running job",
    description="The job ends as cancelled at once; its provider is asked to stop where it can (fal while queued, "
    "Runway). A job that is finished, or whose finished video is being stored, answers 409.",
    operation_id="cancelVideo",
    security=BEARER_JWT,
    responses={200: {"description": "The job, cancelled."}, **error_responses(401, 404, 409, 422, 500)},
)
def cancel_video(id: JobIdPath) -> VideoJobResponse:
    services = get_services()
    job = JobService(services).cancel(current_caller(router).owner, id)
    return JobQueries(services).view(job)
