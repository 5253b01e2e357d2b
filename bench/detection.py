"""Provider calls and detection delay: how many retrieves a job costs over its life, and how long after the
provider finishes a video the backend sees it, on virtual time.

1,000 jobs are submitted over the first 5 virtual minutes, each with queue and render times drawn from a
seeded RNG and scripted into the emulator (`Scenario(queue_seconds=..., render_seconds=...)`). The
backend's and the emulator's manual clocks move together (moto in-process behind one lock, the emulator
in a thread, no latency), so an hour of polling takes a minute or two. Four pollers see the same jobs:

- (a) fixed 5 s polling: every 5 virtual seconds, a hand loop retrieves every unfinished job
  (`GET /v1/videos/{id}` on a keep-alive connection, no DynamoDB); a job is seen at the tick that reads
  it completed;
- (b) the one-shot sweep: one `Sweeper.run` pass per virtual minute, as the scheduler invokes it;
- (c) the continuous sweep: one invocation per virtual minute, passes every 2 s for about 50 s
  (`services.sleep` moves both clocks, and submissions due meanwhile happen at their time);
- (d) the continuous sweep with inbound webhooks: (c), and the emulator posts its signed
  `video.completed` to an in-process endpoint that runs `ProviderWebhookReceiver.receive`; the clocks
  stop at each video's completion moment and the webhook is handled there, before time moves on.

The scheduler is already running when the first job arrives: invocations start at 0 s. Retrieves are
counted from the emulator's request log. The detection delay of a job is its `store_requested_at`
(recorded when the backend asks for the video to be stored) minus the emulator's `completed_at`.

The variants are independent, so each runs in its own process (`python -m bench.detection VARIANT`),
all at once: time is virtual, so sharing the cores changes only the wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import servers
from bench.report import BenchmarkResult, Row, verdict_at_most
from bench.servers import stop_children_on_sigterm
from bench.world import API_KEY, START, VirtualWorld, quiet_backend

NAME = "detection"
DEFAULT_JOBS = 1000
SEED = 20261121
SUBMIT_WINDOW_SECONDS = 300  # jobs arrive over the first 5 virtual minutes
# The mix: (share, model, clip seconds, render seconds range). Queue times are drawn for all alike.
MIX = (
    (0.7, "sora-2", "4", (60, 180)),
    (0.3, "sora-2-pro", "12", (300, 900)),
)
QUEUE_SECONDS = (2, 30)
BASELINE_INTERVAL_SECONDS = 5
SCHEDULE_SECONDS = 60  # EventBridge Scheduler: rate(1 minute)
FUNCTION_TIMEOUT_SECONDS = 70  # PollSoraStatusFunction's Timeout
SWEEP_CONCURRENCY = 1  # time is virtual: more threads would only contend for the lock on in-process moto
GIVE_UP_AFTER_SECONDS = 3 * 3600  # a variant that has not seen every job by then reports the rest as undetected
TARGET_RETRIEVES_MEDIAN = 8.0
TARGET_DELAY_P95_SECONDS = 15.0
OWNERS = 20
CHILD_TIMEOUT_SECONDS = 1800
WEBHOOK_FLUSH_SECONDS = 30.0


@dataclass(frozen=True)
class Variant:
    title: str
    sweep_mode: str | None = None  # None: the fixed-interval poller
    provider_webhooks: bool = False


VARIANTS = {
    "fixed": Variant("(a) fixed 5 s polling of every job"),
    "one-shot": Variant("(b) one-shot sweep, one pass a minute", "one-shot"),
    "continuous": Variant("(c) continuous sweep, passes every 2 s", "continuous"),
    "webhooks": Variant("(d) continuous sweep with inbound webhooks", "continuous", provider_webhooks=True),
}


@dataclass(frozen=True)
class PlannedJob:
    index: int
    submit_at: int  # seconds after START; whole seconds keep the emulator's whole-second completed_at exact
    model: str
    seconds: str
    queue_seconds: int
    render_seconds: int

    @property
    def prompt(self) -> str:
        return f"A paper crane unfolding in the wind [job {self.index}]"


def plan_jobs(count: int, seed: int = SEED) -> list[PlannedJob]:
    rng = random.Random(seed)  # a reproducible workload, not cryptography
    jobs = []
    for index in range(count):
        pick, cumulative = rng.random(), 0.0
        for share, model, seconds, render_range in MIX:  # noqa: B007 - the pick is used after the loop
            cumulative += share
            if pick < cumulative:
                break
        jobs.append(
            PlannedJob(
                index=index,
                submit_at=rng.randrange(SUBMIT_WINDOW_SECONDS),
                model=model,
                seconds=seconds,
                queue_seconds=rng.randint(*QUEUE_SECONDS),
                render_seconds=rng.randint(*render_range),
            )
        )
    return sorted(jobs, key=lambda job: (job.submit_at, job.index))


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class VariantFigures:
    variant: str
    retrieves: dict[int, int] = field(default_factory=dict)  # job index → provider retrieves
    delays: dict[int, float] = field(default_factory=dict)  # job index → seconds from completed to seen
    virtual_seconds: float = 0.0
    wall_seconds: float = 0.0
    invocations: int = 0
    passes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return VARIANTS[self.variant].title

    def of_model(self, planned: list[PlannedJob], model: str | None) -> tuple[list[int], list[float]]:
        chosen = [job.index for job in planned if model is None or job.model == model]
        retrieves = [self.retrieves.get(index, 0) for index in chosen]
        return retrieves, [self.delays[index] for index in chosen if index in self.delays]

    def undetected(self, planned: list[PlannedJob]) -> int:
        return sum(1 for job in planned if job.index not in self.delays)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VariantFigures:
        data["retrieves"] = {int(index): count for index, count in data["retrieves"].items()}
        data["delays"] = {int(index): delay for index, delay in data["delays"].items()}
        return cls(**data)


def _retrieves_by_video(emulator: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for method, path, _status in emulator.request_log:
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "videos"]:
            counts[parts[2]] += 1
    return counts


def _collect(world: VirtualWorld, figures: VariantFigures, videos: dict[int, str], seen: dict[int, datetime]) -> None:
    """Retrieves per job from the emulator's request log; delays from its completed_at."""
    counts = _retrieves_by_video(world.emulator)
    for index, video_id in videos.items():
        figures.retrieves[index] = counts[video_id]
        if index in seen:
            completed_at = world.emulator.video(video_id)["completed_at"]
            if completed_at is None:
                figures.errors.append(f"job {index} was seen as finished but its video has no completed_at")
                continue
            figures.delays[index] = seen[index].timestamp() - completed_at
    figures.virtual_seconds = world.elapsed()


def run_fixed_interval(planned: list[PlannedJob]) -> VariantFigures:
    """(a) Every 5 virtual seconds, retrieve every unfinished job."""
    from local.emulator import Scenario
    from sorajobs.providers.base import GenerationRequest

    figures = VariantFigures("fixed")
    videos: dict[int, str] = {}
    seen: dict[int, datetime] = {}
    with VirtualWorld() as world:
        provider = world.services().provider
        address = urlsplit(world.emulator.root_url)
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
        headers = {"Authorization": f"Bearer {API_KEY}"}

        def submit(job: PlannedJob) -> None:
            world.emulator.script_next(Scenario(queue_seconds=job.queue_seconds, render_seconds=job.render_seconds))
            request = GenerationRequest(prompt=job.prompt, model=job.model, seconds=job.seconds, size="720x1280")
            videos[job.index] = provider.submit(request).id

        def finished(video_id: str) -> bool:
            connection.request("GET", f"/v1/videos/{video_id}", headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"retrieving {video_id} answered {response.status}: {body}")
            return body["status"] in ("completed", "failed")

        for job in planned:
            world.at(job.submit_at, lambda job=job: submit(job))
        tick = 0
        try:
            while (len(seen) < len(planned) or world.pending_timers) and tick < GIVE_UP_AFTER_SECONDS:
                tick += BASELINE_INTERVAL_SECONDS
                world.advance_to(START + timedelta(seconds=tick))
                for index, video_id in videos.items():
                    if index not in seen and finished(video_id):
                        seen[index] = world.now
        finally:
            connection.close()
        _collect(world, figures, videos, seen)
    return figures


class _InstantStore:
    """Stands in for the store queue and the store-video function: the job is completed as soon as it is
    handed over (what VideoStorer does, without the copy), so it leaves the due index as it would."""

    def __init__(self, services: Any) -> None:
        self._services = services

    def request_store(self, message: Any) -> None:
        from sorajobs.logic.lifecycle import transition_to_completed
        from sorajobs.models.job import StoredObject

        job = self._services.jobs.get(message.job_id)
        video = StoredObject(key=f"videos/{job.id}/video.mp4", bytes=1, sha256="0" * 64, content_type="video/mp4")
        completed = transition_to_completed(job, video, None, self._services.clock.now())
        self._services.jobs.save_transition(job, completed.job)


class ProviderWebhookEndpoint:
    """The backend's /provider-webhooks/openai in-process: each POST is handed to
    `ProviderWebhookReceiver.receive` on the server's thread, while the thread that moved the clocks
    waits in `flush_webhooks`, so nothing else touches moto meanwhile."""

    def __init__(self, receiver: Any) -> None:
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    endpoint.outcomes[receiver.receive(body, headers).value] += 1
                    status = 200
                except Exception as error:  # answered 500, so the emulator retries; reported as an error
                    endpoint.errors.append(f"receiving a provider webhook raised {type(error).__name__}: {error}")
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/provider-webhooks/openai"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-provider-webhooks", daemon=True)

    def __enter__(self) -> ProviderWebhookEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def run_sweep(planned: list[PlannedJob], name: str, seed: int = SEED) -> VariantFigures:
    """(b), (c) and (d): the project's sweep, invoked once per virtual minute."""
    from local.emulator import Scenario
    from sorajobs.logic.jobs import JobService
    from sorajobs.logic.provider_webhooks import ProviderWebhookReceiver
    from sorajobs.logic.sweep import Sweeper
    from sorajobs.models.api import SubmitVideoRequest

    variant = VARIANTS[name]
    figures = VariantFigures(name)
    videos: dict[int, str] = {}
    seen: dict[int, datetime] = {}
    by_job_id: dict[str, int] = {}
    outcomes: Counter[str] = Counter()

    class RecordingJobService(JobService):
        """Records each job's first store request: its store_requested_at is when the backend saw it completed."""

        def request_store(self, job: Any) -> None:
            index = by_job_id[job.id]
            if index not in seen and job.store_requested_at is not None:
                seen[index] = job.store_requested_at
            super().request_store(job)

    with VirtualWorld() as world, contextlib.ExitStack() as scope:
        services = world.services(sweep_mode=variant.sweep_mode, sweep_concurrency=SWEEP_CONCURRENCY)
        services.store_queue = _InstantStore(services)
        # The schedule's jitter, seeded like the workload, so a run can be repeated exactly.
        services.random_source = random.Random(seed)
        jobs = RecordingJobService(services)

        def submit(job: PlannedJob) -> None:
            world.emulator.script_next(Scenario(queue_seconds=job.queue_seconds, render_seconds=job.render_seconds))
            request = SubmitVideoRequest(prompt=job.prompt, model=job.model, seconds=job.seconds)
            submitted = jobs.submit(f"owner-{job.index % OWNERS}", request)
            by_job_id[submitted.id] = job.index
            if submitted.provider_video_id is None:
                figures.errors.append(f"job {job.index} was not submitted to the provider: {submitted.status}")
            else:
                videos[job.index] = submitted.provider_video_id

        for job in planned:
            world.at(job.submit_at, lambda job=job: submit(job))
        endpoint = None
        if variant.provider_webhooks:
            endpoint = scope.enter_context(ProviderWebhookEndpoint(ProviderWebhookReceiver(services, jobs=jobs)))
            world.emulator.configure_webhooks(endpoint.url, world.resources.provider_webhook_secret)

            def deliver_webhooks() -> None:
                """Each move queues the webhooks of the videos it finished; they are handled at that instant."""
                if not world.emulator.flush_webhooks(timeout=WEBHOOK_FLUSH_SECONDS):
                    figures.errors.append(f"provider webhooks still queued {WEBHOOK_FLUSH_SECONDS:.0f} s after a move")

            world.after_move = deliver_webhooks
            for job in planned:  # the clocks stop at each completion, as a provider's webhook would not wait
                world.at(job.submit_at + job.queue_seconds + job.render_seconds, lambda: None)
        invocation_at = 0
        while (len(seen) < len(planned) or world.pending_timers) and invocation_at < GIVE_UP_AFTER_SECONDS:
            world.advance_to(START + timedelta(seconds=invocation_at))
            deadline = world.now + timedelta(seconds=FUNCTION_TIMEOUT_SECONDS)
            report = Sweeper(services, jobs=jobs).run(lambda deadline=deadline: (deadline - world.now).total_seconds())
            figures.invocations += 1
            figures.passes += report.passes
            outcomes.update(report.outcomes)
            invocation_at += SCHEDULE_SECONDS
        _collect(world, figures, videos, seen)
        if endpoint is not None:
            figures.errors += endpoint.errors
            outcomes.update({f"webhook {outcome}": count for outcome, count in endpoint.outcomes.items()})
            log = world.emulator.webhook_log()
            retried = sum(1 for entry in log if len(entry["attempts"]) > 1 or not entry["delivered"])
            if retried or len(log) != len(planned):
                figures.errors.append(f"{len(log)} provider webhooks for {len(planned)} jobs, {retried} retried")
    figures.outcomes = dict(outcomes)
    return figures


def run_variant(variant: str, jobs: int, seed: int) -> VariantFigures:
    planned = plan_jobs(jobs, seed)
    began = time.perf_counter()
    with quiet_backend() as logged:
        sweeping = VARIANTS[variant].sweep_mode is not None
        figures = run_sweep(planned, variant, seed) if sweeping else run_fixed_interval(planned)
        if logged.count:
            figures.errors.append(f"the backend logged {logged.count} errors, first: {'; '.join(logged.first)}")
    figures.wall_seconds = time.perf_counter() - began
    return figures


# --- the parent: one child process per variant -------------------------------------------------------


def _run_children(jobs: int, seed: int) -> list[VariantFigures]:
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as scratch, stop_children_on_sigterm():
        children: list[tuple[str, subprocess.Popen[bytes], Path, Path]] = []
        try:
            for variant in VARIANTS:
                result_path, log_path = Path(scratch) / f"{variant}.json", Path(scratch) / f"{variant}.log"
                argv = [sys.executable, "-m", "bench.detection", variant, "--jobs", str(jobs), "--seed", str(seed)]
                with log_path.open("wb") as log:
                    process = subprocess.Popen(
                        [*argv, "--result", str(result_path)],
                        cwd=servers.ROOT,
                        env=servers.quiet_environment(),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                children.append((variant, process, result_path, log_path))
            measured = []
            deadline = time.monotonic() + CHILD_TIMEOUT_SECONDS
            for variant, process, result_path, log_path in children:
                returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
                if returncode != 0 or not result_path.exists():
                    output = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the {variant} child exited with {returncode}:\n{output}")
                figures = VariantFigures.from_json(json.loads(result_path.read_text()))
                print(f"  {figures.name}: {figures.wall_seconds:.0f} s", file=sys.stderr, flush=True)
                measured.append(figures)
            return measured
        finally:
            for _, process, _, _ in children:  # each child by its own process id
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=servers.STOP_SECONDS)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=servers.STOP_SECONDS)


def _median_p95(values: Sequence[float], unit: str = "") -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f}{unit} / {percentile(values, 0.95):.1f}{unit}"


def _describe_mix() -> str:
    parts = [
        f"{share:.0%} {model} {seconds} s clips rendering {low}-{high} s" for share, model, seconds, (low, high) in MIX
    ]
    return ", ".join(parts) + f"; queued {QUEUE_SECONDS[0]}-{QUEUE_SECONDS[1]} s"


def run(*, jobs: int = DEFAULT_JOBS, seed: int = SEED) -> BenchmarkResult:
    result = BenchmarkResult(NAME)
    planned = plan_jobs(jobs, seed)
    measured = _run_children(jobs, seed)
    result.detail_headers = (
        "Poller",
        "jobs",
        "retrieves per job: median / p95",
        "mean",
        "detection delay: p50 / p95",
        "max",
        "undetected",
        "virtual time",
        "invocations / passes",
        "wall time",
    )
    models = [None, *(model for _, model, _, _ in MIX)]
    for figures in measured:
        undetected = figures.undetected(planned)
        for model in models:
            retrieves, delays = figures.of_model(planned, model)
            whole = model is None
            result.detail_rows.append(
                (
                    figures.name,
                    f"{'all' if whole else model} ({len(retrieves)})",
                    _median_p95(retrieves),
                    f"{statistics.mean(retrieves):.1f}" if retrieves else "-",
                    _median_p95(delays, " s"),
                    f"{max(delays):.0f} s" if delays else "-",
                    str(undetected) if whole else "",
                    f"{figures.virtual_seconds / 60:.0f} min" if whole else "",
                    f"{figures.invocations} / {figures.passes}" if whole and figures.invocations else "",
                    f"{figures.wall_seconds:.0f} s" if whole else "",
                )
            )
        result.failures += [f"{figures.name}: {error}" for error in figures.errors]
        if undetected:
            result.failures.append(f"{figures.name}: {undetected} jobs never seen as finished")
        unusual = {
            name: count
            for name, count in figures.outcomes.items()
            if name not in ("polled", "store_requested", "webhook refreshed")
        }
        if unusual:
            result.notes.append(f"{figures.name}: sweep outcomes besides polls: {unusual}")

    for figures in measured:
        retrieves, delays = figures.of_model(planned, None)
        targeted = figures.variant == "continuous"
        median_retrieves = statistics.median(retrieves)
        p95_delay = percentile(delays, 0.95) if delays else math.inf
        result.rows.append(
            Row(
                NAME,
                figures.name,
                f"provider retrieves per job, median of {len(retrieves)} (p95)",
                f"{median_retrieves:.1f} ({percentile(retrieves, 0.95):.0f})",
                f"≤ {TARGET_RETRIEVES_MEDIAN:.0f}" if targeted else "",
                verdict_at_most(median_retrieves, TARGET_RETRIEVES_MEDIAN, "retrieves") if targeted else "",
            )
        )
        result.rows.append(
            Row(
                NAME,
                figures.name,
                "detection delay, p95 (p50)",
                f"{p95_delay:.1f} s ({statistics.median(delays):.1f} s)" if delays else "none seen",
                f"≤ {TARGET_DELAY_P95_SECONDS:.0f} s" if targeted else "",
                verdict_at_most(p95_delay, TARGET_DELAY_P95_SECONDS, "s") if targeted else "",
            )
        )
    result.notes.append(
        f"{jobs} jobs submitted over {SUBMIT_WINDOW_SECONDS // 60} min (seed {seed}): {_describe_mix()}."
    )
    result.notes.append(
        f"Sweeps: concurrency {SWEEP_CONCURRENCY}, moto in-process behind one lock, emulator latency 0, "
        f"invoked every {SCHEDULE_SECONDS} virtual s from 0 s with a {FUNCTION_TIMEOUT_SECONDS} s timeout; "
        f"the {len(measured)} variants ran at once, one process each."
    )
    if any(figures.variant == "webhooks" for figures in measured):
        result.notes.append(
            "(d): each video.completed is signed by the emulator with its virtual clock and handled by "
            "ProviderWebhookReceiver at the virtual instant the video finished (no network or handling time; "
            "`python -m bench --only webhook_latency` measures those on the wall clock)."
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """The child: runs one variant and writes its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.detection")
    parser.add_argument("variant", choices=tuple(VARIANTS))
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    with stop_children_on_sigterm():
        figures = run_variant(args.variant, args.jobs, args.seed)
    args.result.write_text(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
