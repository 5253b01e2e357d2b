"""GET /videos/{id}/sora-status — refresh an unfinished job from the provider (rate-limited) and return it."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, JobQueriesDep
from sorajobs.api.job_dependencies import JobServiceDep
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses, retry_after_header
from sorajobs.models.api import VideoJobResponse

router = APIGatewayHttpRouter()


@router.get(
    "/videos/<id>/sora-status",
    summary="Refresh a job from the provider and return it",
    description=(
        "Asks the provider only when the job is unfinished and was not refreshed within the minimum "
        "interval. The Retry-After header says when to poll next; it is absent once the job is finished."
    ),
    operation_id="refreshVideoStatus",
    security=BEARER_JWT,
    responses={
        200: {
            "description": "The job, refreshed from the provider when that was due.",
            "headers": retry_after_header("Seconds until it is worth asking again; absent once the job is finished."),
        },
        **error_responses(401, 404, 409, 422, 500),
    },
)
def get_sora_status(
    id: JobIdPath, caller: CallerDep, jobs: JobServiceDep, queries: JobQueriesDep
) -> Response[VideoJobResponse]:
    answer = jobs.status(caller.owner, id)
    headers = {"Retry-After": str(answer.retry_after_seconds)} if answer.retry_after_seconds else None
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=queries.view(answer.job),
        headers=headers,
    )
