"""GET /videos/{id}/attempts: the job's attempt history, which a reset keeps (served by the read API function)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, JobQueriesDep
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses
from sorajobs.models.attempts import AttemptListResponse

router = APIGatewayHttpRouter()


@router.get(
    "/videos/<id>/attempts",
    summary="Every generation attempt of a job, oldest first",
    description="The attempts a reset abandoned (as they stood then), then the current one. Never calls the provider.",
    operation_id="listVideoAttempts",
    security=BEARER_JWT,
    responses={200: {"description": "The attempts."}, **error_responses(401, 404, 422, 500)},
)
def list_attempts(id: JobIdPath, caller: CallerDep, queries: JobQueriesDep) -> AttemptListResponse:
    return AttemptListResponse.from_job(queries.get(caller, id))
