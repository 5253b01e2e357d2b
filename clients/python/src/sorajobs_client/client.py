"""The sync client (SoraJobs) and the async one (AsyncSoraJobs): the same methods, the same decisions (_core)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Unpack

import httpx

from sorajobs_client._core import (
    TRANSIENT_WAIT_ERRORS,
    USER_AGENT,
    Call,
    CreateOptions,
    DownloadProgress,
    DownloadResult,
    ProgressCallback,
    RetryPolicy,
    Variant,
    Waiter,
    WaitOptions,
    attempts_call,
    cancel_call,
    check_uploaded,
    content_call,
    create_call,
    download_location,
    download_writer,
    error_from_response,
    image_file,
    job_call,
    list_call,
    network_error,
    parse_answer,
    parse_retry_after,
    replay_call,
    reset_call,
    resolve_settings,
    upload_call,
    upload_form,
    webhooks_call,
)
from sorajobs_client.errors import DownloadError, UploadError
from sorajobs_client.models import (
    AttemptList,
    DoctorReport,
    ImageUpload,
    Job,
    JobList,
    ModelList,
    ReplayResult,
    Stats,
    WebhookDelivery,
    WebhookDeliveryList,
)

PathLike = str | os.PathLike[str]


class _Base:
    def __init__(
        self, api_url: str | None, token: str | None, retry: RetryPolicy | None, environ: Mapping[str, str] | None
    ) -> None:
        settings = resolve_settings(api_url, token, environ)
        self.api_url = settings.api_url
        self._retry = retry or RetryPolicy()
        self._api_headers = {"Authorization": f"Bearer {settings.token}", "User-Agent": USER_AGENT}

    def _answered(self, call: Call, response: httpx.Response, retry: int) -> float | None:
        """None when the response is the answer; else the delay before retrying (raises when out of retries)."""
        if response.status_code < 400:
            return None
        error = error_from_response(response)
        delay = self._retry.delay_after_answer(call, retry, error)
        if delay is None:
            raise error
        return delay

    def _failed(self, call: Call, error: httpx.TransportError, retry: int) -> float:
        delay = self._retry.delay_after_error(call, retry, error)
        if delay is None:
            raise network_error(call, self.api_url, error) from error
        return delay


class SoraJobs(_Base):
    """A client of the Sora video jobs API.

    ::

        with SoraJobs() as api:  # SORA_JOBS_API_URL and SORA_JOBS_TOKEN (or API and TOKEN)
            job = api.create_and_wait("A paper boat on a rainy street", provider="fal", on_progress=print)
            api.download(job.id, to="boat.mp4")
    """

    def __init__(
        self,
        api_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(api_url, token, retry, environ)
        self._sleep, self._clock = sleep, clock
        self._http = httpx.Client(
            base_url=self.api_url, headers=self._api_headers, timeout=timeout, transport=transport
        )
        # Presigned download URLs carry their own authorization: the API token never goes there.
        self._files = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()
        self._files.close()

    def __enter__(self) -> SoraJobs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the API ----------------------------------------------------------------------------------

    def create(self, prompt: str, **options: Unpack[CreateOptions]) -> Job:
        """POST /videos. Retries reuse the create's Idempotency-Key, so a job is never created twice."""
        return parse_answer(self._send(create_call(prompt, options)), Job)

    def retrieve(self, job_id: str) -> Job:
        """GET /videos/{id}: the stored job (never asks the provider)."""
        return parse_answer(self._send(job_call(job_id)), Job)

    def refresh(self, job_id: str) -> Job:
        """GET /videos/{id}/sora-status: the job, refreshed from the provider when due."""
        return self._refreshed(job_id)[0]

    def list(self, *, status: str | None = None, page_size: int = 20, cursor: str | None = None) -> Iterator[Job]:
        """The caller's jobs, newest first, following next_cursor page after page."""
        while True:
            page = self.list_page(status=status, limit=page_size, cursor=cursor)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_page(self, *, status: str | None = None, limit: int = 20, cursor: str | None = None) -> JobList:
        return parse_answer(self._send(list_call(status, limit, cursor)), JobList)

    def reset(self, job_id: str, *, resubmit: bool = False) -> Job:
        return parse_answer(self._send(reset_call(job_id, resubmit)), Job)

    def cancel(self, job_id: str) -> Job:
        return parse_answer(self._send(cancel_call(job_id)), Job)

    def models(self) -> ModelList:
        return parse_answer(self._send(Call("GET", "/models")), ModelList)

    def webhooks(self, job_id: str, *, page_size: int = 50) -> Iterator[WebhookDelivery]:
        """The job's webhook delivery log, newest event first."""
        cursor: str | None = None
        while True:
            page = parse_answer(self._send(webhooks_call(job_id, page_size, cursor)), WebhookDeliveryList)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def replay_webhook(self, job_id: str, event_id: str | None = None) -> ReplayResult:
        """Sends an event (the job's latest by default) again to each of its destinations."""
        return parse_answer(self._send(replay_call(job_id, event_id)), ReplayResult)

    def attempts(self, job_id: str) -> AttemptList:
        """GET /videos/{id}/attempts: every generation attempt of the job, oldest first."""
        return parse_answer(self._send(attempts_call(job_id)), AttemptList)

    def stats(self) -> Stats:
        """GET /stats: your jobs per status and their estimated cost (every owner's, for the admin group)."""
        return parse_answer(self._send(Call("GET", "/stats")), Stats)

    def doctor(self) -> DoctorReport:
        """GET /doctor (the admin group only): each enabled provider's settings, key, and access."""
        return parse_answer(self._send(Call("GET", "/doctor")), DoctorReport)

    def upload_image(self, path: PathLike, *, content_type: str | None = None) -> ImageUpload:
        """POST /uploads, then the file to the signed URL (without the token). Submit with its `upload_id`:
        `api.create(prompt, image_upload_id=upload.upload_id, ...)`."""
        image = image_file(path, content_type)
        upload = parse_answer(self._send(upload_call(image)), ImageUpload)
        data, files = upload_form(image, upload.fields)
        try:
            response = self._files.post(upload.url, data=data, files=files)
        except httpx.TransportError as error:
            raise UploadError(f"The upload broke off: {error}") from error
        check_uploaded(response)
        return upload

    def download(
        self,
        job_id: str,
        to: PathLike | None = None,
        *,
        variant: Variant = "video",
        on_progress: DownloadProgress | None = None,
    ) -> DownloadResult:
        """Streams the stored file to `to` (default `<job id>.mp4`), checking size and SHA-256 against the job."""
        location = download_location(self._send(content_call(job_id, variant)))
        writer = download_writer(self.retrieve(job_id), to, variant, on_progress)
        try:
            with self._files.stream("GET", location) as response:
                writer.start(response)
                for chunk in response.iter_bytes():
                    writer.write(chunk)
        except httpx.TransportError as error:
            writer.abandon()
            raise DownloadError(f"The download broke off: {error}") from error
        except BaseException:
            writer.abandon()
            raise
        return writer.finish()

    def wait(self, job_id: str, **options: Unpack[WaitOptions]) -> Job:
        """Polls sora-status until the job is finished (completed, failed, cancelled or reset) and returns it.

        Honours Retry-After, backs off while nothing moves, rides out transient errors, raises WaitTimeout
        after `timeout` seconds (the job goes on) and hands each poll to `on_progress`."""
        waiter = Waiter(clock=self._clock, **options)
        while True:
            try:
                job, retry_after = self._refreshed(job_id)
            except TRANSIENT_WAIT_ERRORS as error:
                delay = waiter.after_transient_error(error)
            else:
                finished_or_delay = waiter.after_answer(job, retry_after)
                if finished_or_delay is None:
                    return job
                delay = finished_or_delay
            self._sleep(delay)

    def create_and_wait(
        self,
        prompt: str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[CreateOptions],
    ) -> Job:
        job = self.create(prompt, **options)
        return self.wait(job.id, **_wait_options(timeout, on_progress))

    # -- transport --------------------------------------------------------------------------------

    def _refreshed(self, job_id: str) -> tuple[Job, float | None]:
        response = self._send(job_call(job_id, "/sora-status"))
        return parse_answer(response, Job), parse_retry_after(response.headers.get("retry-after"))

    def _send(self, call: Call) -> httpx.Response:
        retry = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as error:
                delay = self._failed(call, error, retry)
            else:
                if (answered := self._answered(call, response, retry)) is None:
                    return response
                delay = answered
            self._sleep(delay)
            retry += 1


class AsyncSoraJobs(_Base):
    """The async twin of SoraJobs: the same methods, awaited (list and webhooks are async iterators)."""

    def __init__(
        self,
        api_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(api_url, token, retry, environ)
        self._sleep, self._clock = sleep, clock
        self._http = httpx.AsyncClient(
            base_url=self.api_url, headers=self._api_headers, timeout=timeout, transport=transport
        )
        self._files = httpx.AsyncClient(headers={"User-Agent": USER_AGENT}, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def __aenter__(self) -> AsyncSoraJobs:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create(self, prompt: str, **options: Unpack[CreateOptions]) -> Job:
        return parse_answer(await self._send(create_call(prompt, options)), Job)

    async def retrieve(self, job_id: str) -> Job:
        return parse_answer(await self._send(job_call(job_id)), Job)

    async def refresh(self, job_id: str) -> Job:
        return (await self._refreshed(job_id))[0]

    async def list(
        self, *, status: str | None = None, page_size: int = 20, cursor: str | None = None
    ) -> AsyncIterator[Job]:
        while True:
            page = await self.list_page(status=status, limit=page_size, cursor=cursor)
            for job in page.data:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list_page(self, *, status: str | None = None, limit: int = 20, cursor: str | None = None) -> JobList:
        return parse_answer(await self._send(list_call(status, limit, cursor)), JobList)

    async def reset(self, job_id: str, *, resubmit: bool = False) -> Job:
        return parse_answer(await self._send(reset_call(job_id, resubmit)), Job)

    async def cancel(self, job_id: str) -> Job:
        return parse_answer(await self._send(cancel_call(job_id)), Job)

    async def models(self) -> ModelList:
        return parse_answer(await self._send(Call("GET", "/models")), ModelList)

    async def webhooks(self, job_id: str, *, page_size: int = 50) -> AsyncIterator[WebhookDelivery]:
        cursor: str | None = None
        while True:
            page = parse_answer(await self._send(webhooks_call(job_id, page_size, cursor)), WebhookDeliveryList)
            for delivery in page.data:
                yield delivery
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def replay_webhook(self, job_id: str, event_id: str | None = None) -> ReplayResult:
        return parse_answer(await self._send(replay_call(job_id, event_id)), ReplayResult)

    async def attempts(self, job_id: str) -> AttemptList:
        return parse_answer(await self._send(attempts_call(job_id)), AttemptList)

    async def stats(self) -> Stats:
        return parse_answer(await self._send(Call("GET", "/stats")), Stats)

    async def doctor(self) -> DoctorReport:
        return parse_answer(await self._send(Call("GET", "/doctor")), DoctorReport)

    async def upload_image(self, path: PathLike, *, content_type: str | None = None) -> ImageUpload:
        image = image_file(path, content_type)
        upload = parse_answer(await self._send(upload_call(image)), ImageUpload)
        data, files = upload_form(image, upload.fields)
        try:
            response = await self._files.post(upload.url, data=data, files=files)
        except httpx.TransportError as error:
            raise UploadError(f"The upload broke off: {error}") from error
        check_uploaded(response)
        return upload

    async def download(
        self,
        job_id: str,
        to: PathLike | None = None,
        *,
        variant: Variant = "video",
        on_progress: DownloadProgress | None = None,
    ) -> DownloadResult:
        content = await self._send(content_call(job_id, variant))
        writer = download_writer(await self.retrieve(job_id), to, variant, on_progress)
        try:
            async with self._files.stream("GET", download_location(content)) as response:
                writer.start(response)
                async for chunk in response.aiter_bytes():
                    writer.write(chunk)
        except httpx.TransportError as error:
            writer.abandon()
            raise DownloadError(f"The download broke off: {error}") from error
        except BaseException:
            writer.abandon()
            raise
        return writer.finish()

    async def wait(self, job_id: str, **options: Unpack[WaitOptions]) -> Job:
        waiter = Waiter(clock=self._clock, **options)
        while True:
            try:
                job, retry_after = await self._refreshed(job_id)
            except TRANSIENT_WAIT_ERRORS as error:
                delay = waiter.after_transient_error(error)
            else:
                finished_or_delay = waiter.after_answer(job, retry_after)
                if finished_or_delay is None:
                    return job
                delay = finished_or_delay
            await self._sleep(delay)

    async def create_and_wait(
        self,
        prompt: str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[CreateOptions],
    ) -> Job:
        job = await self.create(prompt, **options)
        return await self.wait(job.id, **_wait_options(timeout, on_progress))

    async def _refreshed(self, job_id: str) -> tuple[Job, float | None]:
        response = await self._send(job_call(job_id, "/sora-status"))
        return parse_answer(response, Job), parse_retry_after(response.headers.get("retry-after"))

    async def _send(self, call: Call) -> httpx.Response:
        retry = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as error:
                delay = self._failed(call, error, retry)
            else:
                if (answered := self._answered(call, response, retry)) is None:
                    return response
                delay = answered
            await self._sleep(delay)
            retry += 1


def _wait_options(timeout: float | None, on_progress: ProgressCallback | None) -> WaitOptions:
    options: WaitOptions = {}
    if timeout is not None:
        options["timeout"] = timeout
    if on_progress is not None:
        options["on_progress"] = on_progress
    return options


__all__ = ["AsyncSoraJobs", "SoraJobs"]
