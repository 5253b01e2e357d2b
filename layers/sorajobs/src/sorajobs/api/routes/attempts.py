"""GET /videos/{id}/attempts: the job's attempt history, which a reset keeps (served by the read API function)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, JobQueriesDep
from sorajobs.api.routes.common import JobIdPath
from sorajobs.models.attempts import AttemptListResponse

router = APIGatewayHttpRouter()


@router.get(
    "/videos/<id>/attempts",
    summary="Every generation attempt of a job, oldest first",
    description="The attempts a reset abandoned (as they stood then), then the current one. Never calls the provider.",
)
def list_attempts(id: JobIdPath, caller: CallerDep, queries: JobQueriesDep) -> AttemptListResponse:
    return AttemptListResponse.from_job(queries.get(caller, id))
