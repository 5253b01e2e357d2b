"""What the sync and async clients share: settings, the API's calls, retries, error mapping, waits, downloads.

Everything here is free of I/O on the network, so both clients drive the same decisions.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, Literal, TypedDict, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from sorajobs_client.errors import (
    ApiError,
    ConfigurationError,
    DownloadError,
    NetworkError,
    RateLimitedError,
    ServerError,
    SoraJobsError,
    UnexpectedResponseError,
    UploadError,
    WaitTimeout,
    error_class,
)
from sorajobs_client.models import Job

__version__ = "0.1.0"

# The client's own names first; then the ones `make local` writes to .local-stack/env (`source` it).
API_URL_VARIABLES = ("SORA_JOBS_API_URL", "API")
TOKEN_VARIABLES = ("SORA_JOBS_TOKEN", "TOKEN")

Variant = Literal["video", "thumbnail"]
_ModelT = TypeVar("_ModelT", bound=BaseModel)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    api_url: str
    token: str


def resolve_settings(
    api_url: str | None = None, token: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Arguments win; then SORA_JOBS_API_URL / SORA_JOBS_TOKEN; then API / TOKEN (the local stack's env file)."""
    environ = os.environ if environ is None else environ
    url = api_url or next((environ[name] for name in API_URL_VARIABLES if environ.get(name)), None)
    secret = token or next((environ[name] for name in TOKEN_VARIABLES if environ.get(name)), None)
    if not url:
        raise ConfigurationError("No API URL: pass --api-url or set SORA_JOBS_API_URL (or API, from .local-stack/env).")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"The API URL must start with http:// or https://, not {url!r}.")
    if not secret:
        raise ConfigurationError("No token: pass --token or set SORA_JOBS_TOKEN (or TOKEN, from .local-stack/env).")
    return Settings(api_url=url.rstrip("/"), token=secret)


# --- the API's calls -----------------------------------------------------------------------------

# "all": network errors, 429, 5xx and the retryable 409s are retried (reads, and a create under its
# Idempotency-Key); "unsent": only answers that say the request was not carried out (429, those 409s, a
# connection that never opened), for changes a repeat could apply twice.
RetryMode = Literal["all", "unsent"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None
    retry: RetryMode = "all"


class CreateOptions(TypedDict, total=False):
    """The optional fields of POST /videos, and the Idempotency-Key (generated per create when absent)."""

    provider: str
    model: str
    seconds: str | int
    size: str
    image_url: str
    image_upload_id: str
    metadata: dict[str, str]
    webhook_url: str
    idempotency_key: str


def create_call(prompt: str, options: CreateOptions) -> Call:
    body: dict[str, Any] = {"prompt": prompt}
    for name, value in options.items():
        if name != "idempotency_key" and value is not None:
            body[name] = str(value) if name == "seconds" else value
    # One key per create, reused by its retries: the server answers a retry with the same job.
    key = options.get("idempotency_key") or str(uuid.uuid4())
    return Call("POST", "/videos", json=body, headers={"Idempotency-Key": key})


def job_call(job_id: str, action: str = "") -> Call:
    return Call("GET", f"/videos/{_segment(job_id)}{action}")


def list_call(status: str | None, limit: int, cursor: str | None) -> Call:
    params = {"limit": limit, "status": status, "cursor": cursor}
    return Call("GET", "/videos", params={key: value for key, value in params.items() if value is not None})


def reset_call(job_id: str, resubmit: bool) -> Call:
    return Call("POST", f"/videos/{_segment(job_id)}/reset", json={"resubmit": resubmit}, retry="unsent")


def cancel_call(job_id: str) -> Call:
    return Call("POST", f"/videos/{_segment(job_id)}/cancel", json={}, retry="unsent")


def content_call(job_id: str, variant: Variant) -> Call:
    return Call("GET", f"/videos/{_segment(job_id)}/content", params={"variant": variant})


def webhooks_call(job_id: str, limit: int, cursor: str | None) -> Call:
    params: dict[str, Any] = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
    return Call("GET", f"/videos/{_segment(job_id)}/webhooks", params=params)


def replay_call(job_id: str, event_id: str | None) -> Call:
    body = {"event_id": event_id} if event_id else {}
    return Call("POST", f"/videos/{_segment(job_id)}/webhooks/replay", json=body, retry="unsent")


def attempts_call(job_id: str) -> Call:
    return Call("GET", f"/videos/{_segment(job_id)}/attempts")


def upload_call(image: ImageFile) -> Call:
    # Starting an upload costs nothing and a repeat only signs another: every failure is retried.
    return Call("POST", "/uploads", json={"content_type": image.content_type, "bytes": image.size})


def _segment(job_id: str) -> str:
    """A job id as one path segment: an id with a slash must not reach another route."""
    if not job_id or "/" in job_id or job_id in (".", ".."):
        raise ValueError(f"not a job id: {job_id!r}")
    return job_id


# --- reference images ----------------------------------------------------------------------------

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


@dataclass(frozen=True)
class ImageFile:
    path: Path
    content_type: str
    size: int


def image_file(path: str | os.PathLike[str], content_type: str | None = None) -> ImageFile:
    """The image to upload: its type from `content_type`, else from its extension (PNG, JPEG or WebP)."""
    image = Path(path)
    kind = content_type or IMAGE_TYPES.get(image.suffix.lower())
    if kind is None or kind not in IMAGE_TYPES.values():
        allowed = ", ".join(sorted(set(IMAGE_TYPES.values())))
        raise UploadError(f"{image} is not a PNG, JPEG or WebP image by its name; pass content_type ({allowed}).")
    try:
        size = image.stat().st_size
    except OSError as error:
        raise UploadError(f"Cannot read {image}: {error.strerror or error}.") from error
    if not image.is_file() or size == 0:
        raise UploadError(f"{image} is not a file with content.")
    return ImageFile(image, kind, size)


def upload_form(image: ImageFile, fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The signed form's fields, then the file as `file` (it must come last)."""
    return dict(fields), {"file": (image.path.name, image.path.read_bytes(), image.content_type)}


def check_uploaded(response: httpx.Response) -> None:
    """S3 answers a signed POST 204 (or 200/201); else its XML error says why (EntityTooLarge, ...)."""
    if response.status_code in (200, 201, 204):
        return
    code = _xml_text(response.text, "Code") or f"HTTP {response.status_code}"
    message = _xml_text(response.text, "Message") or "the storage refused the upload"
    raise UploadError(f"The signed upload was refused: {code}: {message}.")


def _xml_text(document: str, tag: str) -> str | None:
    start, end = document.find(f"<{tag}>"), document.find(f"</{tag}>")
    return document[start + len(tag) + 2 : end].strip() or None if 0 <= start < end else None


# --- retries -------------------------------------------------------------------------------------

_RETRYABLE_CONFLICTS = frozenset({"conflict", "request_in_progress"})
_PERMANENT_SERVER_CODES = frozenset({"provider_not_configured", "provider_auth_failed", "provider_misconfigured"})


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried `max_retries` times, waiting first_delay, doubling up to max_delay (with
    up to 25 % jitter), and never sooner than a Retry-After; one longer than max_retry_after is not waited out."""

    max_retries: int = 3
    first_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, retry: int) -> float:
        base = min(self.max_delay, self.first_delay * 2.0**retry)
        return base * (1 + 0.25 * random.random())  # noqa: S311 - jitter spreads retries, it guards nothing

    def delay_after_error(self, call: Call, retry: int, error: httpx.TransportError) -> float | None:
        """Seconds to wait before retry number `retry` (0-based) after a network error, or None to give up."""
        if retry >= self.max_retries:
            return None
        never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        return self.backoff(retry) if call.retry == "all" or never_sent else None

    def delay_after_answer(self, call: Call, retry: int, error: ApiError) -> float | None:
        """Seconds to wait before retrying an error answer, or None to raise it."""
        if retry >= self.max_retries or not _transient(error, call.retry):
            return None
        if error.retry_after is not None and error.retry_after > self.max_retry_after:
            return None
        return max(self.backoff(retry), error.retry_after or 0.0)


def _transient(error: ApiError, mode: RetryMode) -> bool:
    if error.status_code == 429 or (error.status_code == 409 and error.code in _RETRYABLE_CONFLICTS):
        return True
    return mode == "all" and error.status_code >= 500 and error.code not in _PERMANENT_SERVER_CODES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


# --- answers -------------------------------------------------------------------------------------

# What API Gateway itself answers (before any function runs) has no envelope: {"message": "Unauthorized"}.
_GATEWAY_ANSWERS: dict[int, tuple[str, str]] = {
    401: ("unauthorized", "The API refused the token: missing, malformed, expired or not issued for this API."),
    403: ("forbidden", "The API does not let this token do that."),
    404: ("route_not_found", "No such route at {url}: is the API URL right?"),
    413: ("payload_too_large", "The request body is too large for the API."),
    429: ("too_many_requests", "The API is throttling requests."),
    500: ("internal_error", "The API failed to answer."),
    502: ("bad_gateway", "The API's gateway got no valid answer from its function."),
    503: ("service_unavailable", "The API is unavailable."),
    504: ("gateway_timeout", "The API did not answer in time."),
}


def request_id_of(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("x-request-id") or response.headers.get("apigw-requestid")
    return value


def error_from_response(response: httpx.Response) -> ApiError:
    """The API's envelope as a typed exception; any other error answer as the nearest one."""
    status, url = response.status_code, str(response.request.url)
    options: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id_of(response),
        "retry_after": parse_retry_after(response.headers.get("retry-after")),
    }
    body = _json_or_none(response)
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict) and isinstance(envelope.get("code"), str):
        code = envelope["code"]
        details = envelope.get("details")
        message = str(envelope.get("message") or code)
        options["details"] = details if isinstance(details, list) else []
        return error_class(status, code)(code, message, **options)
    if status in _GATEWAY_ANSWERS and (isinstance(body, dict) or status >= 500):
        code, message = _GATEWAY_ANSWERS[status]
        if status == 401 and "expired" in response.headers.get("www-authenticate", ""):
            # The JWT authorizer says why only in its challenge: error_description="the token has expired".
            code, message = "token_expired", "The token has expired: get a new one."
        return error_class(status, code)(code, message.format(url=url), **options)
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    message = f"HTTP {status} from {url} is not an answer of this API ({kind}): is the API URL right?"
    cls = ServerError if status >= 500 else UnexpectedResponseError
    return cls(f"http_{status}", message, **options)


def parse_answer(response: httpx.Response, model: type[_ModelT]) -> _ModelT:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        where = f"{response.request.method} {response.request.url.path}"
        first = error.errors()[0]
        problem = f"{'.'.join(str(part) for part in first['loc']) or 'body'}: {first['msg']}"
        raise UnexpectedResponseError(
            "unexpected_response",
            f"The answer to {where} does not match the API's contract ({problem}): is the API URL right?",
            status_code=response.status_code,
            request_id=request_id_of(response),
        ) from None


def network_error(call: Call, url: str, error: httpx.TransportError) -> NetworkError:
    reason = str(error) or type(error).__name__
    return NetworkError(f"Could not reach the API at {url} ({call.method} {call.path}): {reason}")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- waiting -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What a wait saw at one poll: handed to the progress callback."""

    job: Job
    elapsed_seconds: float
    next_poll_seconds: float | None

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def progress(self) -> int:
        return self.job.progress

    @property
    def queue_position(self) -> int | None:
        return self.job.queue_position

    @property
    def eta_seconds(self) -> int | None:
        return self.job.eta_seconds

    @property
    def eta_range_seconds(self) -> tuple[int, int] | None:
        """The ETA's range (10th to 90th percentile), when the API serves one."""
        low, high = self.job.eta_low_seconds, self.job.eta_high_seconds
        return None if low is None or high is None else (low, high)

    @property
    def cost_usd(self) -> float:
        return self.job.estimated_cost_usd

    @property
    def storing(self) -> bool:
        """The provider has finished; the backend is copying the video into its bucket."""
        return self.job.status == "in_progress" and self.job.progress >= 100 and not self.job.ready


ProgressCallback = Callable[[Progress], None]


class WaitOptions(TypedDict, total=False):
    timeout: float
    on_progress: ProgressCallback
    min_interval: float
    max_interval: float


DEFAULT_WAIT_TIMEOUT = 30 * 60.0


class Waiter:
    """Decides each poll of a wait: at the server's pace while the job moves (never sooner than its
    Retry-After), doubling the interval up to max_interval while nothing moves, until the timeout."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        min_interval: float = 1.0,
        max_interval: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout, self._on_progress = timeout, on_progress
        self._min, self._max, self._clock = min_interval, max_interval, clock
        self._started = clock()
        self._interval = min_interval
        self._seen: tuple[Any, ...] | None = None
        self.job: Job | None = None

    def after_answer(self, job: Job, retry_after: float | None) -> float | None:
        """Seconds until the next poll, or None once the job is finished. Calls the progress callback."""
        self.job = job
        moved = (job.status, job.progress, job.queue_position, job.attempt)
        self._interval = self._min if moved != self._seen else min(self._interval * 2, self._max)
        self._seen = moved
        delay = None if job.finished else self._bounded(max(self._interval, retry_after or 0.0), job)
        if self._on_progress is not None:
            self._on_progress(Progress(job, self._clock() - self._started, delay))
        return delay

    def after_transient_error(self, error: SoraJobsError) -> float:
        """A poll that failed even after its retries: the job goes on; wait longer and try again."""
        self._interval = min(self._interval * 2, self._max)
        retry_after = error.retry_after if isinstance(error, RateLimitedError | ServerError) else None
        if self.job is None and self._remaining() <= 0:
            raise error
        return self._bounded(max(self._interval, retry_after or 0.0), self.job)

    def _remaining(self) -> float:
        return self._timeout - (self._clock() - self._started)

    def _bounded(self, delay: float, job: Job | None) -> float:
        remaining = self._remaining()
        if remaining <= 0:
            last = f"; last seen {job.status} at {job.progress}%" if job else ""
            raise WaitTimeout(f"The job did not finish within {self._timeout:g} s{last}. It goes on.", job)
        return min(delay, remaining)


TRANSIENT_WAIT_ERRORS = (NetworkError, ServerError, RateLimitedError)


# --- downloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    bytes: int
    sha256: str
    content_type: str | None


DownloadProgress = Callable[[int, int | None], None]
_EXTENSIONS = {"video/mp4": ".mp4", "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def download_target(to: str | os.PathLike[str] | None, job: Job, variant: Variant) -> Path:
    """`to` as given; a directory (or nothing: the current one) gets `<job id>.mp4` (or the thumbnail's)."""
    name = f"{job.id}.mp4" if variant == "video" else f"{job.id}-thumbnail.jpg"
    if to is None:
        return Path(name)
    path = Path(to)
    return path / name if path.is_dir() else path


def download_location(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307, 308) or not location:
        raise UnexpectedResponseError(
            "unexpected_response",
            f"GET {response.request.url.path} answered HTTP {response.status_code}, not a redirect to the file.",
            status_code=response.status_code,
            request_id=request_id_of(response),
        )
    return str(response.request.url.join(location))


@dataclass
class DownloadWriter:
    """Streams into `<target>.part`, hashing as it goes; only a file that matches the job replaces `target`."""

    target: Path
    expected_bytes: int | None
    expected_sha256: str | None
    on_progress: DownloadProgress | None = None
    _digest: Any = field(default_factory=hashlib.sha256)
    _written: int = 0
    _file: IO[bytes] | None = None
    _total: int | None = None
    content_type: str | None = None

    @property
    def partial(self) -> Path:
        return self.target.with_name(self.target.name + ".part")

    def start(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise DownloadError(f"The presigned download URL answered HTTP {response.status_code}.")
        length = response.headers.get("content-length")
        self._total = int(length) if length and length.isdigit() else self.expected_bytes
        self.content_type = response.headers.get("content-type")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.partial.open("wb")
        self._report()

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._digest.update(chunk)
        self._written += len(chunk)
        self._report()

    def finish(self) -> DownloadResult:
        self._close()
        digest = self._digest.hexdigest()
        if self.expected_bytes is not None and self._written != self.expected_bytes:
            self.abandon()
            raise DownloadError(f"Downloaded {self._written} bytes; the job's video has {self.expected_bytes}.")
        if self.expected_sha256 is not None and digest != self.expected_sha256:
            self.abandon()
            raise DownloadError(f"Downloaded SHA-256 {digest}; the job's video has {self.expected_sha256}.")
        self.partial.replace(self.target)
        return DownloadResult(self.target, self._written, digest, self.content_type)

    def abandon(self) -> None:
        self._close()
        self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self._written, self._total)


def download_writer(
    job: Job, to: str | os.PathLike[str] | None, variant: Variant, on_progress: DownloadProgress | None
) -> DownloadWriter:
    """The stored video is checked against the job's size and SHA-256 (a thumbnail has none to check)."""
    video = job.video if variant == "video" else None
    return DownloadWriter(
        download_target(to, job, variant),
        video.bytes if video else None,
        video.sha256 if video else None,
        on_progress,
    )


USER_AGENT = f"sora-jobs-client/{__version__}"
