"""POST /videos/{id}/reset — abandon a stuck or failed generation, optionally starting a new attempt; and
POST /videos/{id}/cancel — end an unfinished one."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, JobQueriesDep
from sorajobs.api.job_dependencies import JobServiceDep
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses
from sorajobs.models.api import ResetVideoRequest, VideoJobResponse

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
    caller: CallerDep,
    jobs: JobServiceDep,
    queries: JobQueriesDep,
    request: Annotated[ResetVideoRequest, Body()] = ResetVideoRequest(),  # noqa: B008 - an immutable default
) -> VideoJobResponse:
    return queries.view(jobs.reset(caller.owner, id, resubmit=request.resubmit))


@router.post(
    "/videos/<id>/cancel",
    summary="Cancel a pending, queued or running job",
    description="The job ends as cancelled at once; its provider is asked to stop where it can (fal while queued, "
    "Runway). A job that is finished, or whose finished video is being stored, answers 409.",
    operation_id="cancelVideo",
    security=BEARER_JWT,
    responses={200: {"description": "The job, cancelled."}, **error_responses(401, 404, 409, 422, 500)},
)
def cancel_video(id: JobIdPath, caller: CallerDep, jobs: JobServiceDep, queries: JobQueriesDep) -> VideoJobResponse:
    return queries.view(jobs.cancel(caller.owner, id))
