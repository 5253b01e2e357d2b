"""POST /videos — accept a generation, optionally idempotent on the Idempotency-Key header; and POST /uploads,
where a reference image for one goes."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from sorajobs.api.dependencies import CallerDep, JobQueriesDep, ServicesDep
from sorajobs.api.job_dependencies import ImageUploadsDep, JobSubmissionDep
from sorajobs.api.routes.common import BEARER_JWT, error_responses
from sorajobs.logic.lifecycle import provider_rejection
from sorajobs.logic.submission import ENDPOINT_NOT_FOUND, JobSubmission
from sorajobs.models.api import ImageUploadRequest, ImageUploadResponse, SubmitVideoRequest, VideoJobResponse
from sorajobs.models.errors import (
    GenerationRejected,
    IdempotencyKeyReused,
    JobNotFound,
    ProviderMisconfigured,
    ProviderRefusedKey,
    RequestInProgress,
)
from sorajobs.models.job import ErrorCategory, Job
from sorajobs.services import Services

router = APIGatewayHttpRouter()

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


def _submit_once(
    services: Services, submissions: JobSubmission, owner: str, request: SubmitVideoRequest, key: str
) -> Job:
    config = IdempotencyConfig(
        event_key_jmespath="[owner, idempotency_key]",
        payload_validation_jmespath="request",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    )
    # An in-progress record expires with the invocation, so a timed-out request can be retried.
    config.register_lambda_context(router.lambda_context)

    @idempotent_function(
        data_keyword_argument="submission", persistence_store=services.idempotency_store, config=config
    )
    def submit_video_once(submission: dict[str, Any]) -> dict[str, str]:
        return {"job_id": submissions.submit(owner, request).id}

    try:
        outcome = submit_video_once(
            submission={"owner": owner, "idempotency_key": key, "request": request.model_dump(mode="json")}
        )
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body.") from error
    except IdempotencyAlreadyInProgressError as error:
        busy = RequestInProgress("A request with this Idempotency-Key is still being processed.")
        busy.retry_after = 1
        raise busy from error
    job = services.jobs.get(outcome["job_id"])
    if job is None:
        raise JobNotFound(outcome["job_id"])
    return job


@router.post(
    "/videos",
    summary="Submit a video generation",
    description="Answers 202 with the job at once. If the provider is down or rate-limits the submit, the job waits "
    "as `pending` and the sweep submits it later; if the provider refuses the prompt, the answer is 422 with the "
    "provider's code and the failed job's id in `details`.",
    operation_id="createVideo",
    security=BEARER_JWT,
    responses={
        202: {
            "description": "Accepted; the job is tracked from now on.",
            "headers": {"Location": {"description": "The job: `/videos/{id}`.", "schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 409, 413, 415, 422, 429, 500, 503),
    },
)
def submit_video(
    request: Annotated[SubmitVideoRequest, Body()],
    *,
    caller: CallerDep,
    services: ServicesDep,
    submissions: JobSubmissionDep,
    queries: JobQueriesDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="idempotency-key", min_length=1, max_length=255, description="Makes retries safe."),
    ] = None,
) -> Response[VideoJobResponse]:
    owner = caller.owner
    if idempotency_key:
        job = _submit_once(services, submissions, owner, request, idempotency_key)
    else:
        job = submissions.submit(owner, request)
    if (rejection := provider_rejection(job)) is not None:
        if rejection.code == ENDPOINT_NOT_FOUND:
            raise ProviderMisconfigured(rejection.message, job_id=job.id)
        if rejection.category is ErrorCategory.AUTH:
            raise ProviderRefusedKey(f"The provider refused this service's key: {rejection.message}", job_id=job.id)
        raise GenerationRejected(rejection.code, rejection.message, job_id=job.id)
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=queries.view(job),
        headers={"Location": f"/videos/{job.id}"},
    )


@router.post(
    "/uploads",
    summary="Start the upload of a reference image",
    description="Answers where to POST the image (a multipart form: the `fields`, then the file as `file`) within "
    "15 minutes; then submit with `image_upload_id`. Only the declared type, and at most the declared size.",
    operation_id="createImageUpload",
    security=BEARER_JWT,
    responses={
        201: {"description": "Upload the image to `url` with `fields`."},
        **error_responses(400, 401, 413, 415, 422, 500),
    },
)
def start_image_upload(
    request: Annotated[ImageUploadRequest, Body()], caller: CallerDep, uploads: ImageUploadsDep
) -> Response[ImageUploadResponse]:
    answer = uploads.start(caller.owner, request)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=answer)
