"""fal's queue API over httpx (`fal-client` fixes its host to https://queue.fal.run, so it cannot be pointed at
an emulator; this follows https://docs.fal.ai/model-endpoints/queue instead).

    POST {queue}/{model_id}[?fal_webhook=URL]         -> {"request_id", "status_url", "response_url", ...}
    GET  {queue}/{owner}/{alias}/requests/{id}/status?logs=1
                                                      -> IN_QUEUE (queue_position) | IN_PROGRESS (logs)
                                                         | COMPLETED (logs, metrics.inference_time)
    GET  {queue}/{owner}/{alias}/requests/{id}         -> the model's output, or its error (a 4xx/5xx)
    PUT  {queue}/{owner}/{alias}/requests/{id}/cancel  -> 202 CANCELLATION_REQUESTED | 400 ALREADY_COMPLETED

A generation's id here is "{owner}/{alias}/requests/{request_id}", the path its status, result and cancel URLs
share, so it is usable without the model. The queue cannot be listed: a create whose answer was lost is found
only through its webhook (see logic/provider_webhooks.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sorajobs.catalog import CAPABILITIES, ProviderName
from sorajobs.clock import Clock, SystemClock
from sorajobs.models.job import ErrorCategory, JobError
from sorajobs.providers.base import (
    ContentUnavailableError,
    ContentVariant,
    GenerationRejectedError,
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderState,
    ProviderTemporaryError,
    ProviderVideo,
    ProviderVideoNotFoundError,
)
from sorajobs.providers.output_files import StreamedOutput, output_client, stream_fresh_output
from sorajobs.retry_after import retry_after_seconds

# The status endpoint's `status`, in our words. COMPLETED says nothing of success: the result decides.
STATES = {
    "IN_QUEUE": ProviderState.QUEUED,  # `queue_position` requests ahead
    "IN_PROGRESS": ProviderState.RUNNING,  # a runner has it; no progress figure, only logs
    "COMPLETED": ProviderState.SUCCEEDED,  # the result is ready: the model's output, or its error
}
# A cancelled request's result: fal's request error `client_cancelled`.
CANCELLED_STATUS = 499
# fal's error `type`s (https://docs.fal.ai/errors) that are content-policy refusals.
CONTENT_POLICY_TYPES = frozenset({"content_policy_violation", "no_media_generated"})
ASPECT_RATIOS = {"1280x720": "16:9", "720x1280": "9:16", "1080x1080": "1:1"}


def fal_input(request: GenerationRequest) -> dict[str, Any]:
    """The model's input fields: Veo takes "8s" durations, Kling "5"; both an aspect ratio for text-to-video."""
    body: dict[str, Any] = {"prompt": request.prompt}
    if request.model.startswith("fal-ai/veo"):
        body["duration"] = f"{request.seconds}s"
    else:
        body["duration"] = request.seconds
    if request.image_url:
        body["image_url"] = request.image_url
    elif request.size in ASPECT_RATIOS:
        body["aspect_ratio"] = ASPECT_RATIOS[request.size]
    return body


def app_path(model_id: str) -> str:
    """The queue addresses a request by its app, the model id's first two segments."""
    owner, alias, *_ = model_id.split("/")
    return f"{owner}/{alias}"


def error_detail(body: Any) -> tuple[str, str | None]:
    """The error's text and fal's error type, from either documented error shape."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        return str(first.get("msg") or first), str(first.get("type") or "") or None
    error_type = body.get("error_type") if isinstance(body, dict) else None
    return str(detail or body), error_type


def _detail(response: httpx.Response) -> tuple[str, str | None]:
    try:
        return error_detail(response.json())
    except ValueError:
        return response.text[:500] or f"HTTP {response.status_code}", None


def failure(status_code: int | None, message: str, error_type: str | None) -> JobError:
    """Why a generation failed, from its result's status (or a webhook's) and fal's error type."""
    if error_type in CONTENT_POLICY_TYPES:
        category = ErrorCategory.CONTENT_POLICY
    elif status_code == CANCELLED_STATUS:
        category = ErrorCategory.CANCELLED
    elif status_code == 422:
        category = ErrorCategory.INVALID_REQUEST
    elif status_code == 504 or error_type == "request_timeout":
        category = ErrorCategory.TIMEOUT
    else:
        category = ErrorCategory.PROVIDER_INTERNAL
    return JobError(code=error_type or f"fal_http_{status_code or 500}", message=message, category=category)


def result_error(response: httpx.Response) -> JobError:
    """A completed request whose result is an error: why the generation failed."""
    return failure(response.status_code, *_detail(response))


class FalRequestLog(BaseModel):
    """One of the runner's log lines (fal's `RequestLog`); only its time is used. A time that does not parse is
    dropped, never a reason to refuse the status."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: datetime | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parsed_or_none(cls, value: object) -> datetime | None:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class FalMetrics(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    inference_time: Annotated[float, Field(ge=0)] | None = None


class FalStatusBody(BaseModel):
    """The status endpoint's answer, asked with `logs=1`: the place in the queue while IN_QUEUE; the runner's log
    lines, whose times say when rendering began; and, once COMPLETED, `metrics.inference_time`, how long it took."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: str = ""
    queue_position: Annotated[int, Field(ge=0)] | None = None
    logs: list[FalRequestLog] | None = None
    metrics: FalMetrics | None = None

    @property
    def started_at(self) -> float | None:
        """When the runner began (unix seconds): its first log line, when it wrote any."""
        times = [line.timestamp for line in self.logs or () if line.timestamp is not None]
        return min(times).timestamp() if times else None

    @property
    def render_seconds(self) -> float | None:
        return self.metrics.inference_time if self.metrics is not None else None

    def completed_at(self, seen_at: int) -> int:
        """When the generation finished: its start plus its inference time where both are known, else when it
        was seen finished."""
        started, taken = self.started_at, self.render_seconds
        return seen_at if started is None or taken is None else min(seen_at, round(started + taken))


class FalWebhookBody(BaseModel):
    """What fal posts to `fal_webhook` when a request ends: `status` OK with the model's `payload`, or ERROR."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    gateway_request_id: str | None = None
    status: Literal["OK", "ERROR"]
    payload: Any = None
    error: str | None = None
    payload_error: str | None = None


def webhook_report(body: FalWebhookBody, provider_video_id: str, delivered_at: int) -> ProviderVideo:
    """The signed webhook as a provider report: no status poll is needed after it."""
    if body.status == "OK":
        return ProviderVideo(
            id=provider_video_id, state=ProviderState.SUCCEEDED, status="COMPLETED", completed_at=delivered_at
        )
    message, error_type = error_detail(body.payload) if body.payload else (body.error or "", None)
    # `error` reads "Invalid status code: 422": the status the result answers with.
    found = re.search(r"\b([1-5][0-9]{2})\b", body.error or "")
    status_code = int(found.group(1)) if found else None
    state = ProviderState.CANCELLED if status_code == CANCELLED_STATUS else ProviderState.FAILED
    return ProviderVideo(
        id=provider_video_id,
        state=state,
        status="COMPLETED",
        error=failure(status_code, message or body.error or "fal failed the request.", error_type),
    )


def provider_video_id(model_id: str, request_id: str) -> str:
    """A request's id here: the path its status, result and cancel URLs share."""
    return f"{app_path(model_id)}/requests/{request_id}"


def translate_response(response: httpx.Response, *, now: datetime) -> ProviderError:
    """An error answer from the queue itself (not a model's result) in the interface's error types."""
    message, error_type = _detail(response)
    status = response.status_code
    if status in (401, 403):
        return ProviderAuthError("provider_auth_failed", message)
    if status == 404:
        return ProviderVideoNotFoundError("not_found", message)
    retry_after = retry_after_seconds(response.headers, now)
    if status == 429:
        return ProviderRateLimitedError("rate_limited", message, retry_after=retry_after, category=ErrorCategory.QUOTA)
    if status in (400, 422):
        return GenerationRejectedError(error_type or "invalid_request", message, category=ErrorCategory.INVALID_REQUEST)
    return ProviderTemporaryError(
        error_type or f"provider_http_{status}",
        message,
        retry_after=retry_after,
        category=ErrorCategory.PROVIDER_INTERNAL,
    )


class FalQueueProvider:
    name: ProviderName = "fal"
    capabilities = CAPABILITIES["fal"]

    def __init__(self, http: httpx.Client, output_http: httpx.Client, clock: Clock | None = None) -> None:
        self._http = http  # base_url is the queue, with our key in its Authorization header
        self._output_http = output_http
        self._clock: Clock = clock or SystemClock()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise ProviderTemporaryError(
                "provider_timeout", "fal did not answer in time.", category=ErrorCategory.TIMEOUT
            ) from error
        except httpx.TransportError as error:
            raise ProviderTemporaryError("provider_unreachable", f"fal could not be reached: {error}") from error

    def _fault(self, response: httpx.Response) -> ProviderError:
        return translate_response(response, now=self._clock.now())

    def submit(self, request: GenerationRequest) -> ProviderVideo:
        params = {"fal_webhook": request.webhook_url} if request.webhook_url else None
        response = self._call("POST", "/" + request.model, json=fal_input(request), params=params)
        if response.status_code != 200:
            raise self._fault(response)
        body = response.json()
        return ProviderVideo(
            id=provider_video_id(request.model, str(body["request_id"])),
            state=ProviderState.QUEUED,
            status="IN_QUEUE",
            queue_position=body.get("queue_position"),
        )

    def retrieve(self, provider_video_id: str) -> ProviderVideo:
        path = "/" + quote(provider_video_id)
        response = self._call("GET", path + "/status", params={"logs": "1"})
        if response.status_code not in (200, 202):
            raise self._fault(response)
        try:
            body = FalStatusBody.model_validate(response.json())
        except ValueError as malformed:  # pydantic's ValidationError and a body that is not JSON
            raise ProviderTemporaryError(
                "provider_malformed_answer", f"fal's status did not parse: {malformed}"
            ) from malformed
        state = STATES.get(body.status)
        if state is not ProviderState.SUCCEEDED:
            return ProviderVideo(
                id=provider_video_id,
                state=state,
                status=body.status,
                queue_position=body.queue_position if state is ProviderState.QUEUED else None,
                started_at=body.started_at if state is ProviderState.RUNNING else None,
            )
        return self._completed(provider_video_id, body)

    def check_access(self, model: str) -> None:
        """Asks the status of a request that does not exist: fal checks the key first (401/403), then answers
        404 for the unknown request."""
        response = self._call("GET", f"/{model}/requests/{uuid.uuid4()}/status")
        if response.status_code not in (200, 202, 404):
            raise self._fault(response)

    def _completed(self, provider_video_id: str, body: FalStatusBody) -> ProviderVideo:
        """COMPLETED: the result says whether the model made a video or failed."""
        status = body.status
        result = self._call("GET", "/" + quote(provider_video_id))
        if result.status_code == 200:
            return ProviderVideo(
                id=provider_video_id,
                state=ProviderState.SUCCEEDED,
                status=status,
                completed_at=body.completed_at(self._now()),
                started_at=body.started_at,
                render_seconds=body.render_seconds,
            )
        if result.status_code in (401, 403, 404, 429):
            raise self._fault(result)
        state = ProviderState.CANCELLED if result.status_code == CANCELLED_STATUS else ProviderState.FAILED
        return ProviderVideo(id=provider_video_id, state=state, status=status, error=result_error(result))

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def created_since(self, moment: int) -> Iterator[ProviderVideo]:
        return iter(())  # the queue cannot be listed

    @contextmanager
    def download(self, provider_video_id: str, variant: ContentVariant) -> Iterator[StreamedOutput]:
        if variant != "video":
            raise ContentUnavailableError("no_thumbnail", "fal's video models make no thumbnails.")
        with stream_fresh_output(self._output_http, lambda: self._output_url(provider_video_id)) as output:
            yield output

    def _output_url(self, provider_video_id: str) -> str:
        response = self._call("GET", "/" + quote(provider_video_id))
        if response.status_code == 404:
            raise ContentUnavailableError("content_unavailable", "fal no longer knows the request.")
        if response.status_code != 200:
            raise self._fault(response)
        video = response.json().get("video")
        if not isinstance(video, dict) or not video.get("url"):
            raise ContentUnavailableError("content_unavailable", "fal's result names no video file.")
        return str(video["url"])

    def cancel(self, provider_video_id: str) -> bool:
        response = self._call("PUT", "/" + quote(provider_video_id) + "/cancel")
        if response.status_code in (200, 202):
            return True
        if response.status_code in (400, 404):
            return False  # already completed, or unknown
        raise self._fault(response)


def build_fal_provider(
    *,
    api_key: str,
    queue_url: str,
    timeout_seconds: float,
    max_retries: int,
    clock: Clock,
    transport: httpx.BaseTransport | None = None,
) -> FalQueueProvider:
    """`transport` replaces the connection pools of the queue and of output files (tests pass one)."""
    http = httpx.Client(
        base_url=queue_url.rstrip("/"),
        headers={"Authorization": f"Key {api_key}"},
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        # The retries are of connection failures only: never of a sent create.
        transport=transport or httpx.HTTPTransport(retries=max_retries),
    )
    return FalQueueProvider(http, output_client(timeout_seconds, transport), clock)
