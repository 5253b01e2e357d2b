"""Rate budget under burst: 500 clients hammer sora-status on 50 jobs while the provider's retrieve budget
is 120 requests a minute.

Each client asks about its job (`JobService.status`, what GET /videos/{id}/sora-status runs) once per
virtual second, ignoring Retry-After, for 60 virtual seconds. `status_min_refresh_seconds` is 1 s, so
nearly every call wants to refresh from the provider and the budget alone decides which may. The
virtual second is cut into ticks of 100 ms; at each tick the calls that fall in it run at once on a
thread pool, so calls race on the budget's conditional writes as concurrent Lambdas would. Both clocks
are manual (moto in-process behind one lock, the emulator in a thread), so the run is repeatable.

Every provider retrieve is recorded with its virtual time; no 60-second window may hold more than the
budget. Every call must come back as an answer (no exception) with a Retry-After.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.detection import percentile
from bench.report import MET, BenchmarkResult, Row
from bench.world import CallTimings, TimedSession, VirtualWorld, quiet_backend

NAME = "rate_burst"
DEFAULT_CLIENTS = 500
DEFAULT_SECONDS = 60
JOBS = 50
RETRIEVE_RPM = 120
STATUS_MIN_REFRESH_SECONDS = 1.0
WINDOW_SECONDS = 60.0
TICKS_PER_SECOND = 10
CALLER_THREADS = 8
SEQUENTIAL_CLIENTS = 50  # the comparison: enough to keep the budget the limit, cheap enough to run each time
RENDER_SECONDS = 3600.0  # every job stays in progress for the whole burst
SEED = 20261121


@dataclass
class BurstFigures:
    clients: int
    seconds: int
    threads: int
    calls: int = 0
    answers: int = 0
    without_retry_after: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    retry_after: Counter[int] = field(default_factory=Counter)
    retrieve_times: list[float] = field(default_factory=list)  # virtual seconds after the burst began
    emulator_retrieves: int = 0
    refreshes_per_job: list[int] = field(default_factory=list)
    staleness: list[float] = field(default_factory=list)  # seconds since the answered job was last refreshed
    dynamodb_calls: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0

    def max_in_window(self, window: float = WINDOW_SECONDS) -> tuple[int, float]:
        """The most retrieves in any window of `window` seconds, and where that window starts."""
        times = sorted(self.retrieve_times)
        best, best_start, end = 0, 0.0, 0
        for start_index, start in enumerate(times):
            while end < len(times) and times[end] < start + window:
                end += 1
            if end - start_index > best:
                best, best_start = end - start_index, start
        return best, best_start


def _retrieves_in_log(emulator: Any) -> int:
    return sum(
        1
        for method, path, _status in emulator.request_log
        if method == "GET" and path.startswith("/v1/videos/") and path.count("/") == 3
    )


def run_burst(clients: int, seconds: int, threads: int, seed: int = SEED) -> BurstFigures:
    from sorajobs.models.api import SubmitVideoRequest
    from sorajobs.wiring import Wiring

    figures = BurstFigures(clients, seconds, threads)
    lock = threading.Lock()
    with VirtualWorld(render_seconds=RENDER_SECONDS) as world:
        timings = CallTimings()
        world.session = TimedSession(world.session, timings)
        services = world.services(
            provider_retrieve_rpm=RETRIEVE_RPM, status_min_refresh_seconds=STATUS_MIN_REFRESH_SECONDS
        )
        provider = services.provider("openai")
        real_retrieve = provider.retrieve

        def recorded_retrieve(video_id: str) -> Any:
            with lock:
                figures.retrieve_times.append((world.now - burst_began).total_seconds())
            return real_retrieve(video_id)

        provider.retrieve = recorded_retrieve
        wiring = Wiring(services)
        service = wiring.job_service
        jobs = [
            wiring.submission.submit(f"owner-{index}", SubmitVideoRequest(prompt=f"A tide pool at dawn [job {index}]"))
            for index in range(JOBS)
        ]
        world.advance(10)  # the videos are rendering when the burst starts
        burst_began: datetime = world.now
        calls_before = Counter(timings.calls)

        def ask(client: int) -> None:
            job = jobs[client % JOBS]
            try:
                answer = service.status(job.owner, job.id)
            except Exception as error:  # every call must be answered: count what was not
                with lock:
                    figures.exceptions[type(error).__name__] += 1
                return
            refreshed = answer.job.last_refreshed_at or answer.job.created_at
            with lock:
                figures.answers += 1
                figures.staleness.append((world.now - refreshed).total_seconds())
                if answer.retry_after_seconds is None:
                    figures.without_retry_after += 1
                else:
                    figures.retry_after[answer.retry_after_seconds] += 1

        rng = random.Random(seed)  # a reproducible burst, not cryptography
        tick_of_client = [rng.randrange(TICKS_PER_SECOND) for _ in range(clients)]
        by_tick: dict[int, list[int]] = {}
        for client, tick in enumerate(tick_of_client):
            by_tick.setdefault(tick, []).append(client)
        with ThreadPoolExecutor(threads, thread_name_prefix="client") as pool:
            for second in range(seconds):
                for tick in range(TICKS_PER_SECOND):
                    moment = burst_began + timedelta(seconds=second + tick / TICKS_PER_SECOND)
                    world.advance_to(moment)
                    callers = by_tick.get(tick, [])
                    figures.calls += len(callers)
                    list(pool.map(ask, callers))  # the clock stands still until this tick's calls are answered
        world.advance_to(burst_began + timedelta(seconds=seconds))
        figures.emulator_retrieves = _retrieves_in_log(world.emulator)
        figures.dynamodb_calls = Counter(timings.calls)
        figures.dynamodb_calls.subtract(calls_before)
        figures.dynamodb_calls.pop("retrieve", None)
        refreshed: Counter[str] = Counter()
        for method, path, _status in world.emulator.request_log:
            if method == "GET" and path.startswith("/v1/videos/") and path.count("/") == 3:
                refreshed[path.rsplit("/", 1)[1]] += 1
        figures.refreshes_per_job = [refreshed[job.provider_video_id or ""] for job in jobs]
    return figures


def _label(figures: BurstFigures) -> str:
    if figures.threads == 1:
        return f"{figures.clients} clients, one call at a time"
    return f"{figures.clients} clients, each tick's calls on {figures.threads} threads"


def _details(figures: BurstFigures) -> list[str]:
    peak, peak_start = figures.max_in_window()
    per_call = {name: count / max(figures.calls, 1) for name, count in figures.dynamodb_calls.items() if count}
    return [
        f"{figures.calls:,} / {figures.answers:,}",
        f"{figures.without_retry_after:,}",
        f"{sum(figures.exceptions.values()):,}",
        _distribution(figures),
        f"{len(figures.retrieve_times):,} / {figures.emulator_retrieves:,}",
        f"{peak} (from {peak_start:.1f} s)",
        str(bucket_allowance(figures.seconds)),
        f"{min(figures.refreshes_per_job)} / {statistics.median(figures.refreshes_per_job):.0f} / "
        f"{max(figures.refreshes_per_job)}",
        f"{statistics.median(figures.staleness):.1f} / {percentile(figures.staleness, 0.95):.1f} / "
        f"{max(figures.staleness):.1f} s",
        ", ".join(f"{name} {value:.2f}" for name, value in sorted(per_call.items())),
        f"{figures.wall_seconds:.0f} s",
    ]


DETAIL_FIGURES = (
    "status calls made / answered",
    "answers without Retry-After",
    "calls that raised",
    "Retry-After (seconds: answers)",
    "provider retrieves (recorded / emulator log)",
    f"most retrieves in any {WINDOW_SECONDS:.0f} s window (budget {RETRIEVE_RPM})",
    "most the bucket may grant in the run (burst + refill rate * run time)",
    "retrieves per job: min / median / max",
    "age of the answered job's provider data: median / p95 / max",
    "DynamoDB calls per status call",
    "wall time",
)


def bucket_allowance(seconds: float) -> int:
    """The most RateBudget can grant in `seconds` from a full bucket: its burst plus the refill (rate_budget.py)."""
    burst = max(1, RETRIEVE_RPM // 10)
    refill_per_second = max(RETRIEVE_RPM - burst, 1) / 60
    return math.floor(burst + refill_per_second * seconds)


def _distribution(figures: BurstFigures) -> str:
    return ", ".join(f"{value} s: {count:,}" for value, count in sorted(figures.retry_after.items())) or "-"


def _rows(figures: BurstFigures) -> list[Row]:
    peak, _ = figures.max_in_window()
    retrieves = len(figures.retrieve_times)
    answered_with_retry = figures.answers - figures.without_retry_after
    all_answered = not figures.exceptions and figures.answers == figures.calls and figures.without_retry_after == 0
    subject = _label(figures)
    return [
        Row(
            NAME,
            subject,
            f"provider retrieves in any {WINDOW_SECONDS:.0f} s window ({JOBS} jobs, {figures.seconds} virtual s)",
            f"{peak} (of {retrieves})",
            f"≤ {RETRIEVE_RPM} (PROVIDER_RETRIEVE_RPM)",
            MET if peak <= RETRIEVE_RPM else f"MISSED by {peak - RETRIEVE_RPM} retrieves",
        ),
        Row(
            NAME,
            subject,
            "calls answered (200) with a Retry-After",
            f"{answered_with_retry:,} of {figures.calls:,}",
            "all",
            MET if all_answered else f"MISSED by {figures.calls - answered_with_retry:,} calls",
        ),
        Row(NAME, subject, "Retry-After given (seconds: answers)", _distribution(figures)),
    ]


def run(
    *, clients: int = DEFAULT_CLIENTS, seconds: int = DEFAULT_SECONDS, sequential_clients: int = SEQUENTIAL_CLIENTS
) -> BenchmarkResult:
    """The burst with concurrent calls, then (the comparison) fewer clients calling one at a time."""
    result = BenchmarkResult(NAME)
    measured = []
    with quiet_backend() as logged:
        for count, threads in ((clients, CALLER_THREADS), (sequential_clients, 1)):
            if count <= 0:
                continue
            began = time.perf_counter()
            figures = run_burst(count, seconds, threads)
            figures.wall_seconds = time.perf_counter() - began
            print(f"  {_label(figures)}: {figures.wall_seconds:.0f} s", file=sys.stderr, flush=True)
            measured.append(figures)
        if logged.count:
            result.failures.append(f"the backend logged {logged.count} errors, first: {'; '.join(logged.first)}")
    for figures in measured:
        if figures.exceptions:
            result.failures.append(f"{_label(figures)}: calls raised instead of answering: {dict(figures.exceptions)}")
        if len(figures.retrieve_times) != figures.emulator_retrieves:
            result.failures.append(
                f"{_label(figures)}: {len(figures.retrieve_times)} retrieves recorded, "
                f"{figures.emulator_retrieves} in the emulator's log"
            )
        result.rows += _rows(figures)
    result.detail_headers = ("Figure", *(_label(figures) for figures in measured))
    columns = [_details(figures) for figures in measured]
    result.detail_rows = [(name, *(column[index] for column in columns)) for index, name in enumerate(DETAIL_FIGURES)]
    result.notes.append(
        f"{JOBS} jobs, PROVIDER_RETRIEVE_RPM={RETRIEVE_RPM}, "
        f"STATUS_MIN_REFRESH_SECONDS={STATUS_MIN_REFRESH_SECONDS:g}, {seconds} virtual s; each client calls "
        f"once per virtual second, in one of {TICKS_PER_SECOND} ticks (drawn per client); calls in the same "
        "tick share one virtual instant."
    )
    return result
