"""Routes that only read stored data: get, list, content, stats and the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, JobQueriesDep, SettingsDep
from sorajobs.api.routes.common import BEARER_JWT, JobIdPath, error_responses
from sorajobs.logic.queries import model_listing
from sorajobs.models.api import (
    ContentUrlResponse,
    ModelListResponse,
    StatsResponse,
    VideoJobListResponse,
    VideoJobResponse,
)
from sorajobs.models.job import JobStatus, VideoVariant

router = APIGatewayHttpRouter()


@router.get(
    "/videos/<id>",
    summary="Get a stored job (no provider call)",
    operation_id="getVideo",
    security=BEARER_JWT,
    responses={200: {"description": "The job."}, **error_responses(401, 404, 422, 500)},
)
def get_video(id: JobIdPath, caller: CallerDep, queries: JobQueriesDep) -> VideoJobResponse:
    return queries.view(queries.get(caller, id))


@router.get(
    "/videos",
    summary="List the caller's jobs, newest first",
    operation_id="listVideos",
    security=BEARER_JWT,
    responses={200: {"description": "A page of the caller's jobs."}, **error_responses(400, 401, 422, 500)},
)
def list_videos(
    caller: CallerDep,
    queries: JobQueriesDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page.")] = None,
) -> VideoJobListResponse:
    page = queries.list(caller, status=status, limit=limit, cursor=cursor)
    return VideoJobListResponse(data=[queries.view(job) for job in page.jobs], next_cursor=page.next_cursor)


@router.get(
    "/videos/<id>/content",
    summary="Download the stored video or thumbnail",
    description="Redirects (302) to a short-lived presigned URL; with `redirect=false`, answers 200 with that URL "
    "as JSON instead. 409 while the job is not completed (`not_ready` while it may still finish, `no_video` once it "
    "ended without one).",
    operation_id="getVideoContent",
    security=BEARER_JWT,
    responses={
        302: {
            "description": "Redirect to the file.",
            "headers": {"Location": {"description": "A presigned download URL.", "schema": {"type": "string"}}},
            "content": {},
        },
        200: {
            "description": "The URL, with `redirect=false`.",
            "content": {"application/json": {"model": ContentUrlResponse}},
        },
        **error_responses(401, 404, 409, 422, 500),
    },
)
def get_video_content(
    id: JobIdPath,
    caller: CallerDep,
    queries: JobQueriesDep,
    *,
    settings: SettingsDep,
    variant: Annotated[VideoVariant, Query()] = "video",
    redirect: Annotated[
        bool, Query(description="false: answer 200 with the URL as JSON (a browser's video element sends no token).")
    ] = True,
) -> Response[Any]:
    url = queries.content_url(caller, id, variant)
    if redirect:
        return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
    answer = ContentUrlResponse(url=url, expires_in_seconds=settings.content_url_ttl_seconds)
    return Response(
        status_code=200,
        content_type="application/json",
        body=answer.model_dump_json(),
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/models",
    summary="The providers and models jobs may name here",
    description="Each model's durations, sizes, whether it takes an image, and list price; the default is marked.",
    operation_id="listModels",
    security=BEARER_JWT,
    responses={200: {"description": "The providers and models."}, **error_responses(401, 500)},
)
def list_models(settings: SettingsDep) -> ModelListResponse:
    return model_listing(settings)


@router.get(
    "/stats",
    summary="Jobs per status (all owners for the admin group)",
    operation_id="getStats",
    security=BEARER_JWT,
    responses={200: {"description": "Counts and estimated cost."}, **error_responses(401, 500)},
)
def get_stats(caller: CallerDep, queries: JobQueriesDep) -> StatsResponse:
    return queries.stats(caller)


@router.get("/openapi.json", include_in_schema=False)
def get_openapi_document() -> dict[str, Any]:
    return _whole_api_document()


@router.get("/docs", include_in_schema=False, compress=True)
def get_api_docs() -> Response[str]:
    from sorajobs.api.contract import docs_page

    return Response(status_code=200, content_type="text/html; charset=utf-8", body=docs_page(_whole_api_document()))


def _whole_api_document() -> dict[str, Any]:
    # Imported here: the read function serves the other functions' routes only as documentation.
    from sorajobs.api.contract import openapi_document
    from sorajobs.api.routes import attempts, doctor, provider_webhook, reset, sora_status, submit, webhooks

    return openapi_document(
        submit.router,
        sora_status.router,
        reset.router,
        router,
        webhooks.router,
        provider_webhook.router,
        doctor.router,
        attempts.router,
    )
