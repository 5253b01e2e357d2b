"""Sweep throughput: how fast one sweep pass polls a backlog of due jobs, against a sequential poller.

moto runs in server mode and the provider emulator in its own process, each reached over HTTP, as
DynamoDB and OpenAI are; every retrieve waits 100 ms in the emulator (a latency fault). For each size,
the jobs are written straight into the table (the repository's own item mapping), each linked to a
video rendering in the emulator and due at once. Then one one-shot pass of `Sweeper.run` is timed at
each concurrency, and, for the small sizes, with `sweep_concurrency=1`: the same code polling one job
at a time. Between passes both clocks move on 200 s, so every job is due again.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench import servers
from bench.report import MET, BenchmarkResult, Row
from bench.world import (
    CallTimings,
    EndpointSession,
    LoggedErrors,
    TimedProvider,
    TimedSession,
    emulator_process,
    process_cpu_seconds,
    provider_factory,
    quiet_backend,
)

NAME = "sweep_throughput"
DEFAULT_SIZES = (100, 1000, 5000)
DEFAULT_CONCURRENCIES = (32, 64)
DEFAULT_SEQUENTIAL_MAX_JOBS = 100  # one job at a time at 100 ms each: 5,000 jobs would take over 9 minutes
RETRIEVE_LATENCY_MS = 100
TARGET_POLLS_PER_SECOND = 200.0
# Long renders keep every job in progress for the whole run: each poll is claim, retrieve, update.
RENDER_SECONDS = 3600.0
WARM_UP_SECONDS = 60.0  # the videos render this long before the first pass, so they report progress
BETWEEN_PASSES_SECONDS = 200.0  # past the longest poll delay (120 s) and the sweep's lease (60 s)
INVOCATION_SECONDS = 900.0  # the pass is timed whole, even where a 70 s Lambda would stop it
FUNCTION_BUDGET_SECONDS = 60.0  # PollSoraStatusFunction's Timeout (70 s) minus the stop margin (10 s)
OWNERS = 50
CREATE_THREADS = 8
BATCH_WRITE_ITEMS = 25
PROMPT = "A lighthouse keeper's cat watching the storm, for the sweep throughput benchmark"


@dataclass(frozen=True)
class PassFigures:
    size: int
    concurrency: int
    seconds: float
    outcomes: dict[str, int]
    provider_retrieves: int
    cpu_bench: float
    cpu_moto: float
    cpu_emulator: float
    timings: CallTimings
    errors: list[str]

    @property
    def polled(self) -> int:
        return self.outcomes.get("polled", 0)

    @property
    def polls_per_second(self) -> float:
        return self.polled / self.seconds if self.seconds else 0.0

    @property
    def label(self) -> str:
        if self.concurrency == 1:
            return "sequential (Sweeper, concurrency 1)"
        return f"Sweeper, concurrency {self.concurrency}"


class _Stack:
    """moto (server mode) and the emulator process, with the backend's manual clock kept level with the emulator's."""

    def __init__(self, moto: servers.ServerProcess, emulator: servers.ServerProcess) -> None:
        from local.backend_clock import ManualClock

        self.moto, self.emulator = moto, emulator
        self.session = EndpointSession(moto.url)
        self.clock = ManualClock()
        self.resources: Any = None

    def reset(self) -> None:
        """Empty AWS and provider, the stack's resources created again, the clocks level."""
        from local.backend_clock import ManualClock
        from local.resources import create_stack_resources

        servers.http_json("POST", f"{self.moto.url}/moto-api/reset")
        stats = servers.http_json("POST", f"{self.emulator.url}/_emulator/reset")
        self.resources = create_stack_resources(self.session, openai_api_key="unused")
        self.clock = ManualClock(datetime.fromtimestamp(stats["now"], UTC))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        servers.http_json("POST", f"{self.emulator.url}/_emulator/clock/advance", {"seconds": seconds})

    def provider_requests(self) -> int:
        return int(servers.http_json("GET", f"{self.emulator.url}/_emulator/stats")["requests"])

    def services(self, concurrency: int, timings: CallTimings | None = None) -> Any:
        from sorajobs.services import Services

        timings = timings or CallTimings()
        build_provider = provider_factory(f"{self.emulator.url}/v1")
        settings = self.resources.settings(sweep_mode="one-shot", sweep_concurrency=concurrency)
        return Services(
            settings,
            clock=self.clock,
            providers={"openai": lambda: TimedProvider(build_provider(), timings)},
            boto3_session=TimedSession(self.session, timings),
        )


def _footprint(job: Any) -> Counter[str]:
    """What a job adds to the status counters (as JobRepository counts it), so the table stays consistent."""
    return Counter(
        {
            job.status.value: 1,
            "active": 1,
            "in_flight": int(job.admitted),
            "cost_cents": job.estimated_cost_cents,
        }
    )


def _write_jobs(services: Any, jobs: list[Any]) -> None:
    from sorajobs.dal.job_counters import ALL_OWNERS_STATS_KEY, owner_stats_key
    from sorajobs.dal.job_items import job_to_attributes, serialize

    client, table = services.dynamodb, services.settings.jobs_table_name

    def write_batch(batch: list[Any]) -> None:
        requests = {table: [{"PutRequest": {"Item": serialize(job_to_attributes(job))}} for job in batch]}
        while requests:
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}

    batches = [jobs[start : start + BATCH_WRITE_ITEMS] for start in range(0, len(jobs), BATCH_WRITE_ITEMS)]
    with ThreadPoolExecutor(CREATE_THREADS) as pool:
        list(pool.map(write_batch, batches))
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for job in jobs:
        totals[owner_stats_key(job.owner)].update(_footprint(job))
        totals[ALL_OWNERS_STATS_KEY].update(_footprint(job))
    for key, counts in totals.items():
        names = {f"#n{index}": name for index, name in enumerate(counts)}
        values = {f":v{index}": {"N": str(value)} for index, value in enumerate(counts.values())}
        client.update_item(
            TableName=table,
            Key={"pk": {"S": key}},
            UpdateExpression="ADD " + ", ".join(f"#n{index} :v{index}" for index in range(len(counts))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def create_due_jobs(stack: _Stack, count: int) -> None:
    """`count` jobs in progress at the provider, due at once: videos created in the emulator, then the job
    items built with the project's transitions (admitted, submitted, first progress) and batch-written."""
    from sorajobs.clock import new_job_id
    from sorajobs.logic.lifecycle import (
        apply_provider_video,
        new_pending_job,
        transition_to_admitted,
        transition_to_submitted,
    )
    from sorajobs.logic.schedule import PollSchedule
    from sorajobs.providers.base import GenerationRequest, ProviderState, ProviderVideo

    services = stack.services(concurrency=1)
    provider, schedule = (
        services.provider("openai"),
        PollSchedule.for_settings(services.settings, services.random_source),
    )
    request = GenerationRequest(prompt=PROMPT, model="sora-2", seconds="4", size="720x1280")
    with ThreadPoolExecutor(CREATE_THREADS) as pool:
        videos = list(pool.map(lambda _: provider.submit(request), range(count)))
    submitted_at = stack.clock.now()
    stack.advance(WARM_UP_SECONDS)
    now = stack.clock.now()
    jobs = []
    for index, video in enumerate(videos):
        pending = new_pending_job(
            job_id=new_job_id(),
            owner=f"bench-owner-{index % OWNERS}",
            prompt=PROMPT,
            model="sora-2",
            seconds="4",
            size="720x1280",
            metadata={},
            now=submitted_at,
            estimated_cost_cents=40,
        )
        queued = transition_to_submitted(transition_to_admitted(pending).job, video, submitted_at, schedule).job
        rendering = ProviderVideo(id=video.id, state=ProviderState.RUNNING, progress=1)
        job = apply_provider_video(queued, rendering, now, schedule).job
        jobs.append(job.model_copy(update={"next_poll_at": now}))
    _write_jobs(services, jobs)


def time_pass(stack: _Stack, size: int, concurrency: int, logged: LoggedErrors) -> PassFigures:
    from sorajobs.wiring import Wiring

    stack.advance(BETWEEN_PASSES_SECONDS)
    timings = CallTimings()
    services = stack.services(concurrency, timings)
    _ = services.provider("openai"), services.jobs  # clients built before the clock starts, as in a warm container
    errors_before = logged.count
    requests_before = stack.provider_requests()
    cpu_before = (time.process_time(), process_cpu_seconds(stack.moto.pid), process_cpu_seconds(stack.emulator.pid))
    started = time.perf_counter()
    report = Wiring(services).sweeper.run(lambda: INVOCATION_SECONDS)
    seconds = time.perf_counter() - started
    cpu_after = (time.process_time(), process_cpu_seconds(stack.moto.pid), process_cpu_seconds(stack.emulator.pid))
    return PassFigures(
        size=size,
        concurrency=concurrency,
        seconds=seconds,
        outcomes=dict(report.outcomes),
        provider_retrieves=stack.provider_requests() - requests_before,
        cpu_bench=cpu_after[0] - cpu_before[0],
        cpu_moto=cpu_after[1] - cpu_before[1],
        cpu_emulator=cpu_after[2] - cpu_before[2],
        timings=timings,
        errors=logged.first if logged.count > errors_before else [],
    )


def _check(figures: PassFigures) -> list[str]:
    problems = []
    if figures.outcomes != {"polled": figures.size}:
        problems.append(f"{figures.label}, {figures.size} jobs: outcomes {figures.outcomes}, not {figures.size} polled")
    if figures.provider_retrieves != figures.polled:
        problems.append(
            f"{figures.label}, {figures.size} jobs: {figures.provider_retrieves} provider requests "
            f"for {figures.polled} polls"
        )
    problems += [f"{figures.label}, {figures.size} jobs: logged {error}" for error in figures.errors]
    return problems


def _verdict_at_least(value: float, limit: float, unit: str) -> str:
    return MET if value >= limit else f"MISSED by {limit - value:.0f} {unit}"


def _detail(figures: PassFigures) -> tuple[str, ...]:
    fits = "yes" if figures.seconds <= FUNCTION_BUDGET_SECONDS else "no"
    polled = max(figures.polled, 1)
    timings = figures.timings
    return (
        f"{figures.size:,}",
        figures.label,
        f"{figures.seconds:.1f} s",
        f"{figures.polls_per_second:.0f}",
        f"{figures.polled:,} / {figures.provider_retrieves:,}",
        " / ".join(f"{1000 * cpu / polled:.1f}" for cpu in (figures.cpu_bench, figures.cpu_moto, figures.cpu_emulator)),
        f"{timings.mean_ms('retrieve'):.0f} / {timings.mean_ms('update_item'):.0f}",
        f"{timings.calls['query']} in {timings.seconds['query']:.1f} s",
        fits,
    )


def run(
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    concurrencies: Sequence[int] = DEFAULT_CONCURRENCIES,
    sequential_max_jobs: int = DEFAULT_SEQUENTIAL_MAX_JOBS,
) -> BenchmarkResult:
    result = BenchmarkResult(NAME)
    result.detail_headers = (
        "due jobs",
        "poller",
        "pass time",
        "polls/s",
        "polled / provider retrieves",
        "CPU ms per poll: sweep / moto / emulator",
        "mean ms: retrieve / update_item",
        "due-index query pages",
        f"fits in {FUNCTION_BUDGET_SECONDS:.0f} s",
    )
    measured: list[PassFigures] = []
    with (
        quiet_backend() as logged,
        servers.moto_server() as moto,
        emulator_process(queue_seconds=0, render_seconds=RENDER_SECONDS) as emulator,
    ):
        stack = _Stack(moto, emulator)
        for size in sorted(sizes):
            stack.reset()
            began = time.perf_counter()
            create_due_jobs(stack, size)
            print(f"  {size} due jobs created in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
            fault = {"operation": "retrieve", "kind": "latency", "latency_ms": RETRIEVE_LATENCY_MS}
            servers.http_json("POST", f"{emulator.url}/_emulator/faults", fault)
            runs = ([1] if size <= sequential_max_jobs else []) + list(concurrencies)
            for concurrency in runs:
                figures = time_pass(stack, size, concurrency, logged)
                print(f"  {figures.label}: {figures.seconds:.1f} s", file=sys.stderr, flush=True)
                measured.append(figures)
                result.failures += _check(figures)
                result.detail_rows.append(_detail(figures))

    largest = max(sizes)
    for figures in measured:
        targeted = figures.size == largest and figures.concurrency > 1
        result.rows.append(
            Row(
                NAME,
                figures.label,
                f"one pass over {figures.size:,} due jobs, retrieves taking {RETRIEVE_LATENCY_MS} ms",
                f"{figures.polls_per_second:.0f} polls/s ({figures.seconds:.1f} s)",
                f"≥ {TARGET_POLLS_PER_SECOND:.0f} polls/s" if targeted else "",
                _verdict_at_least(figures.polls_per_second, TARGET_POLLS_PER_SECOND, "polls/s") if targeted else "",
            )
        )
    sequential = [figures.polls_per_second for figures in measured if figures.concurrency == 1]
    if sequential:
        rate = statistics.median(sequential)
        result.notes.append(
            f"Sequential poller: {rate:.1f} polls/s, so {largest:,} due jobs would take about "
            f"{largest / rate:.0f} s one at a time."
        )
    else:
        result.notes.append(f"No size ≤ {sequential_max_jobs} jobs: the sequential poller did not run.")
    result.notes.append(
        "moto in server mode (its own process, threaded werkzeug) and the emulator in its own process; "
        "the bench, moto and the emulator share the machine's cores."
    )
    return result
