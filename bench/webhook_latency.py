"""Webhook latency: from the moment the provider (the emulator) reports a video completed to the client's
webhook endpoint receiving `video.completed`, on the local stack and real clocks.

Two modes, each on a fresh `LocalStack` in background mode (moto in server mode, the emulator on the
wall clock, the gateway, the scheduler, the store and webhook-delivery SQS pollers and the stream
poller, all in this process):

- inbound: the emulator posts its signed `video.completed` to `/provider-webhooks/openai`, which
  refreshes the job at once; the sweep still runs as the safety net;
- sweep only: no provider webhooks; the scheduler invokes the one-shot sweep every 2 s.

Each mode submits one unmeasured warm-up job (so the functions' first imports are not counted), then
N jobs through `POST /videos`, one every 2 s (`--webhook-interval`), each with `webhook_url` = a receiver
on 127.0.0.1 that records the wall-clock arrival of every event. Per job:

- provider done: the exact moment the emulator starts answering `completed` (its API's `completed_at`
  is that moment floored to a whole second, so the moment comes from the video's record);
- store requested and stored: the job's `store_requested_at` and `completed_at`;
- arrival: the first `video.completed` for the job at the receiver.

End to end = arrival - provider done; storage = stored - store requested; storage excluded = end to
end - storage (= detection + delivery).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import statistics
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.report import MET, BenchmarkResult, Row

NAME = "webhook_latency"
DEFAULT_JOBS = 20
QUEUE_SECONDS = 1.0
RENDER_SECONDS = 4.0
# One job every 2 s: the whole local stack runs in this one process (one GIL) and costs about a second
# of CPU per job, so closer submissions measure its queueing, not the webhook path (see docs/benchmarks.md).
SUBMIT_INTERVAL_SECONDS = 2.0
# The deployed continuous sweep makes a pass every 2 s (SWEEP_PASS_INTERVAL_SECONDS); the local scheduler
# mirrors it with a one-shot pass every 2 s.
SCHEDULE_SECONDS = 2.0
PARAMETERS = {
    "SweepMode": "one-shot",
    "LogLevel": "ERROR",
    # The create budget (25 a minute by default) would hold back jobs submitted every 2 s or faster.
    "ProviderCreateRequestsPerMinute": "0",
}
TARGET_MEDIAN_SECONDS = 2.0
WARM_UP_TIMEOUT_SECONDS = 60.0
ARRIVAL_TIMEOUT_SECONDS = 90.0  # after the last submission
USER = "bench-webhooks"
MODES = {
    "inbound": "inbound webhooks (+ sweep every 2 s)",
    "sweep": "sweep only, every 2 s",
}


@dataclass(frozen=True)
class JobTimes:
    """Wall-clock unix seconds of one job's milestones."""

    job_id: str
    provider_done: float
    store_requested: float
    stored: float
    arrived: float
    # The emulator API's completed_at (whole seconds, floored), for comparison.
    reported_completed_at: int

    @property
    def end_to_end(self) -> float:
        return self.arrived - self.provider_done

    @property
    def storage(self) -> float:
        return self.stored - self.store_requested

    @property
    def storage_excluded(self) -> float:
        return self.end_to_end - self.storage

    @property
    def detection(self) -> float:
        return self.store_requested - self.provider_done

    @property
    def delivery(self) -> float:
        return self.arrived - self.stored


@dataclass
class ModeFigures:
    mode: str
    jobs: list[JobTimes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    provider_webhooks: int = 0  # sent by the emulator, delivered
    sweep_runs: int = 0
    server_errors: int = 0  # 5xx answers moto or the emulator logged (the clients retry them)
    # This process's CPU (the whole stack) from the first measured submission to the last arrival.
    cpu_seconds_per_job: float = 0.0
    cpu_share: float = 0.0  # of one core, over that window
    wall_seconds: float = 0.0

    @property
    def name(self) -> str:
        return MODES[self.mode]

    def values(self, figure: str) -> list[float]:
        return [getattr(job, figure) for job in self.jobs]


class ArrivalRecorder:
    """A client's webhook endpoint on 127.0.0.1: notes when each event arrives, then checks its signature."""

    def __init__(self, secret: str) -> None:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        self.arrivals: dict[str, float] = {}  # job id → first video.completed
        self.refused = 0
        self._changed = threading.Condition()
        recorder, verifier = self, Webhook(secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    event = verifier.verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    with recorder._changed:
                        recorder.refused += 1
                    self.send_response(401)
                else:
                    with recorder._changed:
                        if event["type"] == "video.completed":
                            recorder.arrivals.setdefault(event["data"]["id"], arrived)
                        recorder._changed.notify_all()
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-webhook-receiver", daemon=True)
        self._thread.start()

    def snapshot(self) -> tuple[dict[str, float], int]:
        """The arrivals so far, and how many deliveries were refused."""
        with self._changed:
            return dict(self.arrivals), self.refused

    def wait_for(self, job_ids: set[str], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: job_ids <= self.arrivals.keys(), timeout)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def _receiver(secret: str) -> Iterator[ArrivalRecorder]:
    recorder = ArrivalRecorder(secret)
    try:
        yield recorder
    finally:
        recorder.stop()


def provider_done_at(emulator: Any, video_id: str) -> float:
    """The exact wall-clock moment from which the emulator answers `completed` for the video.

    Its API gives `completed_at` floored to a whole second (up to 1 s early), so the moment is computed
    from the video's record, as the emulator's own lifecycle does.
    """
    from local.emulator.state import terminal_at

    with emulator._state.lock:
        moment = terminal_at(emulator._state.videos[video_id])
    if moment is None:
        raise RuntimeError(f"the emulator's video {video_id} never finishes")
    return moment


def _submit(api: Any, webhook_url: str, label: str) -> str:
    response = api.post(
        "/videos",
        json={
            "prompt": f"A paper lantern rising over a harbour [{label}]",
            "model": "sora-2",
            "seconds": "4",
            "size": "720x1280",
            "webhook_url": webhook_url,
        },
    )
    if response.status_code != 202:
        raise RuntimeError(f"POST /videos answered {response.status_code}: {response.text[:300]}")
    return str(response.json()["id"])


def _collect(stack: Any, figures: ModeFigures, job_ids: Sequence[str], arrivals: dict[str, float]) -> None:
    jobs = stack.wiring.services.jobs
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job_id not in arrivals:
            figures.errors.append(f"job {job_id} ({job.status}): no video.completed reached the receiver")
            continue
        if job.provider_video_id is None or job.store_requested_at is None or job.completed_at is None:
            figures.errors.append(f"job {job_id} has no provider video, store request or completion: {job.status}")
            continue
        done = provider_done_at(stack.emulator, job.provider_video_id)
        reported = stack.emulator.video(job.provider_video_id)["completed_at"]
        if reported != math.floor(done):
            figures.errors.append(f"job {job_id}: the emulator reports completed_at {reported}, its record {done}")
        figures.jobs.append(
            JobTimes(
                job_id=job_id,
                provider_done=done,
                store_requested=job.store_requested_at.timestamp(),
                stored=job.completed_at.timestamp(),
                arrived=arrivals[job_id],
                reported_completed_at=reported,
            )
        )


class _CountedRecords(logging.Handler):
    """Counts the records it is given (and shows none); keeps the first few messages."""

    def __init__(self, level: int) -> None:
        super().__init__(level=level)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 3:
            self.first.append(record.getMessage().splitlines()[0][:300])


@contextlib.contextmanager
def _quiet_output() -> Iterator[tuple[_CountedRecords, _CountedRecords]]:
    """While the stack runs: the functions' error logs and the servers' "Error on request" logs are
    counted instead of printed, and the EMF blobs Powertools prints at 100 values of a metric are
    discarded. Call once the stack has set the functions' environment (the logger is named from it)."""
    from sorajobs.observability import logger, metrics

    service_logger, werkzeug_logger = logging.getLogger(logger.service), logging.getLogger("werkzeug")
    saved = [(log, log.handlers[:], log.level, log.propagate) for log in (service_logger, werkzeug_logger)]
    function_errors, server_errors = _CountedRecords(logging.ERROR), _CountedRecords(logging.ERROR)
    service_logger.handlers, werkzeug_logger.handlers = [function_errors], [server_errors]
    werkzeug_logger.propagate = False
    try:
        with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
            yield function_errors, server_errors
    finally:
        metrics.clear_metrics()
        for log, handlers, level, propagate in saved:
            log.handlers, log.level, log.propagate = handlers, level, propagate


def measure_mode(mode: str, jobs: int, interval: float = SUBMIT_INTERVAL_SECONDS) -> ModeFigures:
    import httpx

    from local.emulator import EmulatorConfig
    from local.stack import LocalStack

    figures = ModeFigures(mode)
    began = time.perf_counter()
    stack = LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=QUEUE_SECONDS, render_seconds=RENDER_SECONDS),
        parameters=PARAMETERS,
        schedule_interval_seconds=SCHEDULE_SECONDS,
        provider_webhooks=mode == "inbound",
    )
    with warnings.catch_warnings(), stack, _quiet_output() as (function_errors, server_errors):
        # Powertools warns on every invocation that published no metric; locally metrics are off anyway.
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
        assert stack.resources is not None and stack.emulator is not None
        with _receiver(stack.resources.webhook_signing_secret) as receiver:
            headers = {"Authorization": f"Bearer {stack.mint_token(USER, ['users'])}"}
            with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=60) as api:
                warm_up = _submit(api, receiver.url, "warm-up")
                if not receiver.wait_for({warm_up}, WARM_UP_TIMEOUT_SECONDS):
                    raise RuntimeError(f"the warm-up job got no video.completed in {WARM_UP_TIMEOUT_SECONDS:.0f} s")
                job_ids: list[str] = []
                cpu_before, start = time.process_time(), time.monotonic()
                for index in range(jobs):
                    pause = start + index * interval - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)  # a benchmark on real time: the submissions are spaced out
                    job_ids.append(_submit(api, receiver.url, f"job {index}"))
            receiver.wait_for(set(job_ids), ARRIVAL_TIMEOUT_SECONDS)
            cpu_seconds = time.process_time() - cpu_before
            figures.cpu_seconds_per_job = cpu_seconds / jobs
            figures.cpu_share = cpu_seconds / max(time.monotonic() - start, 1e-9)
            arrivals, refused = receiver.snapshot()
        _collect(stack, figures, job_ids, arrivals)
        if refused:
            figures.errors.append(f"{refused} webhook(s) failed signature verification at the receiver")
        log = stack.emulator.webhook_log()
        figures.provider_webhooks = sum(1 for entry in log if entry["delivered"])
        if undelivered := [entry for entry in log if not entry["delivered"]]:
            figures.errors.append(f"{len(undelivered)} provider webhook(s) not delivered: {undelivered[:2]}")
        figures.sweep_runs = stack.scheduler.runs
        if function_errors.count:
            first = "; ".join(function_errors.first)
            figures.errors.append(f"the functions logged {function_errors.count} errors, first: {first}")
        figures.server_errors = server_errors.count
    figures.wall_seconds = time.perf_counter() - began
    return figures


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _figure(values: Sequence[float], share: float) -> float:
    return statistics.median(values) if share == 0.5 else percentile(values, share)


def _seconds(values: Sequence[float], *shares: float) -> str:
    """`median / p95 / ...` in seconds (a share of 0.5 is the median, 1.0 the maximum)."""
    if not values:
        return "-"
    return " / ".join(f"{_figure(values, share):.2f}" for share in shares) + " s"


def run(*, jobs: int = DEFAULT_JOBS, interval: float = SUBMIT_INTERVAL_SECONDS) -> BenchmarkResult:
    result = BenchmarkResult(NAME)
    measured = [measure_mode(mode, jobs, interval) for mode in MODES]
    result.detail_headers = (
        "Mode",
        "jobs",
        "end to end: median / p95 / max",
        "storage: median / max",
        "storage excluded: median / p95 / max",
        "detection: median / p95",
        "delivery: median / p95",
        "CPU per job (share of a core)",
        "wall time",
    )
    for figures in measured:
        result.detail_rows.append(
            (
                figures.name,
                str(len(figures.jobs)),
                _seconds(figures.values("end_to_end"), 0.5, 0.95, 1.0),
                _seconds(figures.values("storage"), 0.5, 1.0),
                _seconds(figures.values("storage_excluded"), 0.5, 0.95, 1.0),
                _seconds(figures.values("detection"), 0.5, 0.95),
                _seconds(figures.values("delivery"), 0.5, 0.95),
                f"{figures.cpu_seconds_per_job:.2f} s ({figures.cpu_share:.0%} of a core)",
                f"{figures.wall_seconds:.0f} s",
            )
        )
        result.failures += [f"{figures.name}: {error}" for error in figures.errors]
        if not figures.jobs:
            continue
        targeted = figures.mode == "inbound"
        excluded = statistics.median(figures.values("storage_excluded"))
        result.rows.append(
            Row(
                NAME,
                figures.name,
                f"completion → client webhook, storage excluded, median of {len(figures.jobs)} (p95)",
                f"{excluded:.2f} s ({percentile(figures.values('storage_excluded'), 0.95):.2f} s)",
                f"< {TARGET_MEDIAN_SECONDS:.0f} s" if targeted else "",
                _verdict_under(excluded, TARGET_MEDIAN_SECONDS) if targeted else "",
            )
        )
        result.rows.append(
            Row(
                NAME,
                figures.name,
                "completion → client webhook, end to end, median (p95); storage median",
                f"{statistics.median(figures.values('end_to_end')):.2f} s "
                f"({percentile(figures.values('end_to_end'), 0.95):.2f} s); "
                f"{statistics.median(figures.values('storage')):.2f} s",
            )
        )
        floored = [job.arrived - job.reported_completed_at for job in figures.jobs]
        result.notes.append(
            f"{figures.name}: {figures.provider_webhooks} provider webhooks delivered, {figures.sweep_runs} sweep "
            f"runs, {figures.server_errors} 5xx from moto or the emulator (retried by the clients); end to end "
            f"from the API's whole-second completed_at instead: median {statistics.median(floored):.2f} s."
        )
    result.notes.append(
        f"{jobs} measured jobs per mode (sora-2, 4 s, 720x1280), one every {interval:g} s after one "
        f"unmeasured warm-up job; emulator queue {QUEUE_SECONDS:g} s, render {RENDER_SECONDS:g} s, wall clock."
    )
    result.notes.append(
        f"Both modes: a fresh LocalStack (moto in server mode), parameters {json.dumps(PARAMETERS)}, the "
        f"scheduler invoking the one-shot sweep every {SCHEDULE_SECONDS:g} s (plus the pass's own time) to "
        "mirror the deployed continuous sweep's pass every 2 s; SQS pollers long-poll 1 s, the stream poller "
        "reads every 0.1 s. CPU per job: this process's CPU time (the whole stack) from the first measured "
        "submission to the last arrival, divided by the jobs."
    )
    return result


def _verdict_under(value: float, limit: float) -> str:
    return MET if value < limit else f"MISSED by {value - limit:.2f} s"
