"""Streams a finished output from the URL a provider gave (fal's and Runway's storage), never with our API key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from sorajobs.providers.base import ContentUnavailableError, ProviderTemporaryError

# Storage answers these for a URL whose signature expired or whose file is gone.
GONE_STATUSES = frozenset({403, 404, 410})


class OutputExpiredError(ContentUnavailableError):
    """The output URL no longer works; a fresh one from the provider may."""


class StreamedOutput:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.content_type = response.headers.get("content-type", "video/mp4").split(";")[0]
        length = response.headers.get("content-length")
        self.content_length = int(length) if length and length.isdigit() else None

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes(chunk_size=chunk_size)
        except httpx.HTTPError as error:
            raise ProviderTemporaryError("download_interrupted", f"The download broke off: {error}") from error


@contextmanager
def stream_output(http: httpx.Client, url: str) -> Iterator[StreamedOutput]:
    """GET `url` as a stream; OutputExpiredError for a URL storage refuses, a temporary error for the rest."""
    try:
        with http.stream("GET", url) as response:
            if response.status_code in GONE_STATUSES:
                raise OutputExpiredError(f"output_http_{response.status_code}", "The output URL no longer works.")
            if response.status_code >= 400:
                raise ProviderTemporaryError(
                    f"output_http_{response.status_code}", "The provider's storage failed to serve the output."
                )
            yield StreamedOutput(response)
    except httpx.TimeoutException as error:
        raise ProviderTemporaryError("download_timeout", f"The output did not arrive in time: {error}") from error
    except httpx.TransportError as error:
        raise ProviderTemporaryError("download_unreachable", f"The output could not be fetched: {error}") from error


# A refused output URL is fetched anew once (it may have expired between asking for it and downloading it).
OUTPUT_FETCHES = 2


@contextmanager
def stream_fresh_output(http: httpx.Client, fresh_url: Callable[[], str]) -> Iterator[StreamedOutput]:
    """Streams the output from a URL asked for just now, and from a fresher one if storage refuses it."""
    for fetch in range(OUTPUT_FETCHES):
        try:
            with stream_output(http, fresh_url()) as output:
                yield output
                return
        except OutputExpiredError:
            if fetch == OUTPUT_FETCHES - 1:
                raise


def output_client(timeout_seconds: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The client for output files: no provider credentials, redirects followed (storage redirects to a CDN)."""
    return httpx.Client(timeout=httpx.Timeout(timeout_seconds, connect=5.0), follow_redirects=True, transport=transport)
