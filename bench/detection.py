"""Provider calls and detection delay: how many retrieves a job costs over its life, and how long after the
provider finishes a video the backend sees it, on virtual time, for each provider.

1,000 jobs are submitted over the first 5 virtual minutes, each with queue and render times drawn from a
seeded RNG and scripted into the provider's emulator (OpenAI: `Scenario(queue_seconds=..., render_seconds=...)`;
fal: `Scenario(queue_seconds=..., processing_seconds=...)` with a runner per job, so none waits for one; Runway:
`Scenario(pending_seconds=..., running_seconds=...)`). The backend's and the emulator's manual clocks move
together (moto in-process behind one lock, the emulator in a thread, no latency), so an hour of polling takes a
minute or two. On the OpenAI-compatible gateway, four pollers see the same jobs:

- (a) fixed 5 s polling: every 5 virtual seconds, a hand loop retrieves every unfinished job
  (`GET /v1/videos/{id}` on a keep-alive connection, no DynamoDB); a job is seen at the tick that reads
  it completed;
- (b) the one-shot sweep: one `Sweeper.run` pass per virtual minute, as the scheduler invokes it;
- (c) the continuous sweep: one invocation per virtual minute, passes every 2 s for about 50 s
  (`services.sleep` moves both clocks, and submissions due meanwhile happen at their time);
- (d) the continuous sweep with inbound webhooks: (c), and the emulator posts its signed
  `video.completed` to an in-process endpoint that runs `ProviderWebhookReceiver.receive`; the clocks
  stop at each video's completion moment and the webhook is handled there, before time moves on.

The same jobs (same times; the provider's model, `fal-ai/veo3/fast` or `gen4.5`, with a short or long clip where
OpenAI's were sora-2 or sora-2-pro) go to fal, with (a), (c), and (d) with fal's ED25519-signed webhooks handled
by `FalWebhookReceiver`, and to Runway, with (a) and (c): Runway sends no webhooks.

The scheduler is already running when the first job arrives: invocations start at 0 s. Retrieves are
counted from the emulator's request log: `GET /v1/videos/{id}`; fal's status and result GETs (reported apart
too); Runway's `GET /v1/tasks/{id}`. The detection delay of a job is its `store_requested_at` (recorded when the
backend asks for the video to be stored) minus the emulator's completion moment (`completed_at`, fal's
`finished_at`, Runway's task `finished_at`).

The variants are independent, so each runs in its own process (`python -m bench.detection VARIANT`),
all at once: time is virtual, so sharing the cores changes only the wall time.
"""

from __future__ import annotations

import argparse
import contextlib
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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench import servers
from bench.emulated_providers import EmulatedProvider, Receive, emulated
from bench.report import BenchmarkResult, Row, verdict_at_most
from bench.servers import stop_children_on_sigterm
from bench.world import START, VirtualWorld, quiet_backend

NAME = "detection"
DEFAULT_JOBS = 1000
SEED = 20261121
SUBMIT_WINDOW_SECONDS = 300  # jobs arrive over the first 5 virtual minutes
PROVIDERS = ("openai", "fal", "runway")
FAL_MODEL = "fal-ai/veo3/fast"
RUNWAY_MODEL = "gen4.5"
# The mix: (share, render seconds range, and the model and clip seconds each provider is asked for: the short
# and the long clips each offers). Queue times are drawn for all alike.
MIX: tuple[tuple[float, tuple[int, int], dict[str, tuple[str, str]]], ...] = (
    (0.7, (60, 180), {"openai": ("sora-2", "4"), "fal": (FAL_MODEL, "4"), "runway": (RUNWAY_MODEL, "5")}),
    (0.3, (300, 900), {"openai": ("sora-2-pro", "12"), "fal": (FAL_MODEL, "8"), "runway": (RUNWAY_MODEL, "10")}),
)
# The second workload: render times that differ by model and vary little within one, as a provider's models
# each keep their own pace.
BY_MODEL_MIX: tuple[tuple[float, tuple[int, int], dict[str, tuple[str, str]]], ...] = (
    (0.5, (50, 70), {"openai": ("sora-2", "4"), "fal": (FAL_MODEL, "4"), "runway": (RUNWAY_MODEL, "5")}),
    (0.5, (380, 460), {"openai": ("sora-2-pro", "12"), "fal": (FAL_MODEL, "8"), "runway": (RUNWAY_MODEL, "10")}),
)
WORKLOADS = {"mixed": MIX, "by-model": BY_MODEL_MIX}
QUEUE_SECONDS = (2, 30)
# Warm variants start with this many finishes of each kind already learned (drawn from the same workload).
WARM_HISTORY = 50
# ETAs are sampled this often over each job's life, once this many jobs of its kind have finished.
ETA_SAMPLE_SECONDS = 15
ETA_LEARNED_AFTER = 20
TARGET_PREDICTED_RETRIEVES_MEDIAN = 3.0
TARGET_PREDICTED_DELAY_P95_SECONDS = 10.0
TARGET_ETA_ERROR_MEDIAN = 0.20
BASELINE_INTERVAL_SECONDS = 5
SCHEDULE_SECONDS = 60  # EventBridge Scheduler: rate(1 minute)
FUNCTION_TIMEOUT_SECONDS = 70  # PollSoraStatusFunction's Timeout
SWEEP_CONCURRENCY = 1  # time is virtual: more threads would only contend for the lock on in-process moto
GIVE_UP_AFTER_SECONDS = 3 * 3600  # a variant that has not seen every job by then reports the rest as undetected
TARGET_RETRIEVES_MEDIAN = 8.0
TARGET_DELAY_P95_SECONDS = 15.0
OWNERS = 20
CHILD_TIMEOUT_SECONDS = 3600
WEBHOOK_FLUSH_SECONDS = 30.0


@dataclass(frozen=True)
class Variant:
    title: str
    provider: str = "openai"
    sweep_mode: str | None = None  # None: the fixed-interval poller
    provider_webhooks: bool = False
    poll_strategy: str = "predicted"  # the sweep's schedule: "predicted" (learned) or "ladder" (before learning)
    warm: bool = False  # starts with WARM_HISTORY finishes of each kind learned
    workload: str = "mixed"

    @property
    def other_emulators(self) -> tuple[str, ...]:
        """The emulators the world runs besides the OpenAI one (which always runs)."""
        return () if self.provider == "openai" else (self.provider,)

    @property
    def subject(self) -> str:
        """How the summary names it: the OpenAI variants as before, the others after their provider."""
        return self.title if self.provider == "openai" else f"{self.provider}: {self.title}"

    @property
    def targeted(self) -> bool:
        """Held to the targets: the continuous sweep on its own, without webhooks."""
        return self.sweep_mode == "continuous" and not self.provider_webhooks and self.workload == "mixed"

    @property
    def predicts(self) -> bool:
        """Held to the predicted polls' targets: learned, warm, the sweep on its own."""
        return self.poll_strategy == "predicted" and self.warm and not self.provider_webhooks


DETECTION_VARIANTS = {
    "fixed": Variant("(a) fixed 5 s polling of every job"),
    "one-shot": Variant("(b) one-shot sweep, one pass a minute", sweep_mode="one-shot"),
    "continuous": Variant("(c) continuous sweep, passes every 2 s", sweep_mode="continuous"),
    "webhooks": Variant("(d) continuous sweep with inbound webhooks", sweep_mode="continuous", provider_webhooks=True),
    "fal-fixed": Variant("(a) fixed 5 s polling of every job", "fal"),
    "fal-continuous": Variant("(c) continuous sweep, passes every 2 s", "fal", "continuous"),
    "fal-webhooks": Variant("(d) continuous sweep with fal's signed webhooks", "fal", "continuous", True),
    "runway-fixed": Variant("(a) fixed 5 s polling of every job", "runway"),
    "runway-continuous": Variant("(c) continuous sweep, passes every 2 s", "runway", "continuous"),
}
# Predicted polls (issue 18) beside today's ladder, on both workloads, for each provider: the sweep only.
PREDICTION_VARIANTS = {
    f"{prefix}{workload}-{history}": Variant(
        title,
        provider,
        "continuous",
        poll_strategy="ladder" if history == "ladder" else "predicted",
        warm=history == "warm",
        workload=workload,
    )
    for provider, prefix in (("openai", ""), ("fal", "fal-"), ("runway", "runway-"))
    # Runway reports progress as the gateway does: its second workload would repeat the gateway's.
    for workload in (WORKLOADS if provider != "runway" else ("mixed",))
    for history, title in (
        ("ladder", f"{workload}: the ladder (before learning)"),
        ("cold", f"{workload}: predicted, no history"),
        ("warm", f"{workload}: predicted, {WARM_HISTORY} finishes per kind learned"),
    )
}
VARIANTS = {**DETECTION_VARIANTS, **PREDICTION_VARIANTS}


@dataclass(frozen=True)
class PlannedJob:
    index: int
    submit_at: int  # seconds after START; whole seconds keep the emulator's whole-second completed_at exact
    row: int  # of the workload's mix: which clip each provider is asked for
    queue_seconds: int
    render_seconds: int
    workload: str = "mixed"

    @property
    def prompt(self) -> str:
        return f"A paper crane unfolding in the wind [job {self.index}]"

    @property
    def completes_at(self) -> int:
        """Seconds after START at which the provider finishes it, as scripted (no provider queues it longer)."""
        return self.submit_at + self.queue_seconds + self.render_seconds

    def clip(self, provider: str) -> tuple[str, str]:
        """The model and clip seconds this job asks `provider` for."""
        return WORKLOADS[self.workload][self.row][2][provider]

    def label(self, provider: str) -> str:
        model, seconds = self.clip(provider)
        return f"{model} {seconds} s"


def plan_jobs(count: int, seed: int = SEED, workload: str = "mixed") -> list[PlannedJob]:
    rng = random.Random(seed)  # a reproducible workload, not cryptography
    mix = WORKLOADS[workload]
    jobs = []
    for index in range(count):
        pick, cumulative, row = rng.random(), 0.0, 0
        for row, (share, _render, _clips) in enumerate(mix):  # noqa: B007 - the row is used after the loop
            cumulative += share
            if pick < cumulative:
                break
        jobs.append(
            PlannedJob(
                index=index,
                submit_at=rng.randrange(SUBMIT_WINDOW_SECONDS),
                row=row,
                queue_seconds=rng.randint(*QUEUE_SECONDS),
                render_seconds=rng.randint(*mix[row][1]),
                workload=workload,
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
    jobs: int = 0
    retrieves: dict[int, int] = field(default_factory=dict)  # job index → provider retrieves
    result_reads: dict[int, int] = field(default_factory=dict)  # job index → of them, fal's result GETs
    delays: dict[int, float] = field(default_factory=dict)  # job index → seconds from completed to seen
    failed: dict[int, str] = field(default_factory=dict)  # job index → how the backend ended it before seeing it done
    virtual_seconds: float = 0.0
    wall_seconds: float = 0.0
    invocations: int = 0
    passes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # |ETA - time left| / time left, sampled over the jobs' lives once ETA_LEARNED_AFTER of their kind finished.
    eta_errors: list[float] = field(default_factory=list)

    @property
    def provider(self) -> str:
        return VARIANTS[self.variant].provider

    @property
    def name(self) -> str:
        return VARIANTS[self.variant].subject

    def of_label(self, planned: list[PlannedJob], label: str | None) -> tuple[list[int], list[int], list[float]]:
        """Retrieves, result GETs and delays of the jobs with this label (None: all)."""
        chosen = [job.index for job in planned if label is None or job.label(self.provider) == label]
        retrieves = [self.retrieves.get(index, 0) for index in chosen]
        results = [self.result_reads.get(index, 0) for index in chosen]
        return retrieves, results, [self.delays[index] for index in chosen if index in self.delays]

    def undetected(self, planned: list[PlannedJob]) -> int:
        """Jobs never seen finished, nor failed by the backend (the variant gave up on them)."""
        return sum(1 for job in planned if job.index not in self.delays and job.index not in self.failed)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VariantFigures:
        for name in ("retrieves", "result_reads", "delays", "failed"):
            data[name] = {int(index): value for index, value in data[name].items()}
        return cls(**data)


def _world(variant: Variant, planned: list[PlannedJob]) -> VirtualWorld:
    """The variant's world: fal with a runner per job, so that no job waits in fal's queue for one."""
    return VirtualWorld(providers=variant.other_emulators, fal_concurrency=max(1, len(planned)))


def _collect(
    world: VirtualWorld,
    provider: EmulatedProvider,
    figures: VariantFigures,
    planned: list[PlannedJob],
    videos: dict[int, str],
    seen: dict[int, datetime],
) -> None:
    """Retrieves per job from the emulator's request log; delays from its completion moment, which must be the
    scripted one (else a scenario went to another job, or the provider queued it longer)."""
    reads = provider.reads()
    scripted = {job.index: START.timestamp() + job.completes_at for job in planned}
    for index, video_id in videos.items():
        counts = reads.get(video_id, Counter())
        figures.retrieves[index] = sum(counts.values())
        figures.result_reads[index] = counts["result"]
        finished_at = provider.finished_at(video_id)
        if finished_at is None:
            if index in seen:
                figures.errors.append(f"job {index} was seen as finished but its generation has not finished")
            continue
        if finished_at != scripted[index]:
            figures.errors.append(f"job {index} finished {finished_at - scripted[index]:+.0f} s from its script")
        if index in seen:
            figures.delays[index] = seen[index].timestamp() - finished_at
    figures.virtual_seconds = world.elapsed()


def run_fixed_interval(planned: list[PlannedJob], name: str) -> VariantFigures:
    """(a) Every 5 virtual seconds, retrieve every unfinished job."""
    from sorajobs.providers.base import GenerationRequest

    variant = VARIANTS[name]
    figures = VariantFigures(name, len(planned))
    videos: dict[int, str] = {}
    seen: dict[int, datetime] = {}
    with _world(variant, planned) as world:
        provider = emulated(variant.provider, world)
        backend_provider = world.services().provider(variant.provider)
        connection = provider.connection()

        def submit(job: PlannedJob) -> None:
            provider.script(job.queue_seconds, job.render_seconds)
            model, seconds = job.clip(variant.provider)
            request = GenerationRequest(prompt=job.prompt, model=model, seconds=seconds, size="720x1280")
            videos[job.index] = backend_provider.submit(request).id

        for job in planned:
            world.at(job.submit_at, lambda job=job: submit(job))
        tick = 0
        try:
            while (len(seen) < len(planned) or world.pending_timers) and tick < GIVE_UP_AFTER_SECONDS:
                tick += BASELINE_INTERVAL_SECONDS
                world.advance_to(START + timedelta(seconds=tick))
                for index, video_id in videos.items():
                    if index not in seen and provider.hand_poll(connection, video_id):
                        seen[index] = world.now
        finally:
            connection.close()
        _collect(world, provider, figures, planned, videos, seen)
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
    """The backend's /provider-webhooks/<provider> in-process: each POST is handed to `receive` (the provider's
    receiver, given the body, the headers and the query) on the server's thread, while the thread that moved
    the clocks waits in `flush_webhooks`, so nothing else touches moto meanwhile. `receive` is set once the
    backend that the endpoint's URL configures is built."""

    def __init__(self, path: str) -> None:
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.receive: Receive | None = None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
                try:
                    if endpoint.receive is None:
                        raise RuntimeError("a webhook came before the backend was built")
                    endpoint.outcomes[endpoint.receive(body, headers, query)] += 1
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
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
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
    from sorajobs.logic.job_writes import JobWrites
    from sorajobs.logic.model_choice import choose_model
    from sorajobs.logic.render_times import estimate
    from sorajobs.logic.schedule import ladder_seconds_left
    from sorajobs.models.api import SubmitVideoRequest
    from sorajobs.models.render_times import RenderKind
    from sorajobs.wiring import Wiring

    variant = VARIANTS[name]
    figures = VariantFigures(name, len(planned))
    videos: dict[int, str] = {}
    seen: dict[int, datetime] = {}
    by_job_id: dict[str, int] = {}
    outcomes: Counter[str] = Counter()
    latest: dict[int, Any] = {}  # job index → the job as last written

    class RecordingJobWrites(JobWrites):
        """Records each job's first store request (its store_requested_at is when the backend saw it completed),
        and each job the backend failed before that (every generation here completes, so none should be)."""

        def request_store(self, job: Any) -> None:
            index = by_job_id[job.id]
            if index not in seen and job.store_requested_at is not None:
                seen[index] = job.store_requested_at
            super().request_store(job)

        def write(self, before: Any, change: Any) -> Any:
            saved = super().write(before, change)
            index = by_job_id.get(saved.id)
            if index is not None:
                latest[index] = saved
            if index is not None and index not in seen and not saved.is_unfinished:
                reason = saved.error.code if saved.error is not None else "no error"
                figures.failed[index] = f"{saved.status.value} ({reason})"
            return saved

    with _world(variant, planned) as world, contextlib.ExitStack() as scope:
        provider = emulated(variant.provider, world)
        endpoint, webhook_settings = None, {}
        if variant.provider_webhooks:
            if provider.webhook_path is None:
                raise ValueError(f"{variant.provider} sends no webhooks")
            endpoint = scope.enter_context(ProviderWebhookEndpoint(provider.webhook_path))
            webhook_settings = provider.webhook_settings(endpoint.url)
        services = world.services(
            sweep_mode=variant.sweep_mode,
            sweep_concurrency=SWEEP_CONCURRENCY,
            poll_strategy=variant.poll_strategy,
            **webhook_settings,
        )
        services.store_queue = _InstantStore(services)
        # The schedule's jitter, seeded like the workload, so a run can be repeated exactly.
        services.random_source = random.Random(seed)
        wiring = Wiring(services)
        # The wiring's own job writes, recording: the submits, the sweep and the receivers are built on them.
        wiring.job_writes = RecordingJobWrites(
            jobs=services.jobs, store_queue=services.store_queue, render_times=wiring.render_times
        )
        submissions = wiring.submission

        def request_of(job: PlannedJob) -> SubmitVideoRequest:
            model, seconds = job.clip(variant.provider)
            return SubmitVideoRequest(prompt=job.prompt, provider=variant.provider, model=model, seconds=seconds)

        if variant.warm:  # what an earlier run of the same workload would have taught
            history = random.Random(seed + 1)
            for row, (_share, render, _clips) in enumerate(WORKLOADS[variant.workload]):
                example = next(job for job in planned if job.row == row)
                choice = choose_model(services.settings.catalog, request_of(example))
                kind = RenderKind(variant.provider, choice.spec.model, choice.seconds, choice.size)
                for _ in range(WARM_HISTORY):
                    queue, rendering = history.randint(*QUEUE_SECONDS), history.randint(*render)
                    services.render_time_store.add(kind, float(queue + rendering))
                    if variant.provider == "fal":  # in phases too: the wait (in all, and as one place), the render
                        services.render_time_store.add(replace(kind, phase="queue"), float(queue))
                        services.render_time_store.add(replace(kind, phase="queue_place"), float(queue))
                        services.render_time_store.add(replace(kind, phase="rendering"), float(rendering))

        def submit(job: PlannedJob) -> None:
            provider.script(job.queue_seconds, job.render_seconds)
            submitted = submissions.submit(f"owner-{job.index % OWNERS}", request_of(job))
            by_job_id[submitted.id] = job.index
            latest[job.index] = submitted
            if submitted.provider_video_id is None:
                figures.errors.append(f"job {job.index} was not submitted to the provider: {submitted.status}")
            else:
                videos[job.index] = submitted.provider_video_id

        for job in planned:
            world.at(job.submit_at, lambda job=job: submit(job))

        def sample_etas() -> None:
            """Each accepted job the provider has not finished: its ETA as the API would serve it now, against
            the time it really has left (today's ETA for the ladder), once its kind has finished often enough."""
            now = world.now
            for job in planned:
                stored = latest.get(job.index)
                left = (START + timedelta(seconds=job.completes_at) - now).total_seconds()
                if stored is None or stored.provider_video_id is None or left <= 0 or not stored.is_unfinished:
                    continue
                distribution = wiring.render_times.distribution(stored)
                if distribution.finished < ETA_LEARNED_AFTER:
                    continue
                if variant.poll_strategy == "ladder":
                    eta = ladder_seconds_left(stored, now)
                else:
                    served = estimate(stored, now, wiring.render_times)
                    eta = served.seconds if served is not None else 0.0
                figures.eta_errors.append(abs(eta - left) / left)

        horizon = max(job.completes_at for job in planned) + SCHEDULE_SECONDS
        for moment in range(0, horizon, ETA_SAMPLE_SECONDS):
            world.at(moment, sample_etas)
        if endpoint is not None:
            endpoint.receive = provider.receiver(wiring)
            provider.start_webhooks(endpoint.url, world)

            def deliver_webhooks() -> None:
                """Each move queues the webhooks of the videos it finished; they are handled at that instant."""
                if not provider.flush_webhooks(WEBHOOK_FLUSH_SECONDS):
                    figures.errors.append(f"provider webhooks still queued {WEBHOOK_FLUSH_SECONDS:.0f} s after a move")

            world.after_move = deliver_webhooks
            for job in planned:  # the clocks stop at each completion, as a provider's webhook would not wait
                world.at(job.completes_at, lambda: None)
        invocation_at = 0
        while (len(seen) + len(figures.failed) < len(planned) or world.pending_timers) and (
            invocation_at < GIVE_UP_AFTER_SECONDS
        ):
            world.advance_to(START + timedelta(seconds=invocation_at))
            deadline = world.now + timedelta(seconds=FUNCTION_TIMEOUT_SECONDS)
            report = wiring.sweeper.run(lambda deadline=deadline: (deadline - world.now).total_seconds())
            figures.invocations += 1
            figures.passes += report.passes
            outcomes.update(report.outcomes)
            invocation_at += SCHEDULE_SECONDS
        _collect(world, provider, figures, planned, videos, seen)
        if endpoint is not None:
            figures.errors += endpoint.errors
            outcomes.update({f"webhook {outcome}": count for outcome, count in endpoint.outcomes.items()})
            log = provider.webhook_log()
            retried = sum(1 for entry in log if len(entry["attempts"]) > 1 or not entry["delivered"])
            if retried or len(log) != len(planned):
                figures.errors.append(f"{len(log)} provider webhooks for {len(planned)} jobs, {retried} retried")
    figures.outcomes = dict(outcomes)
    return figures


def run_variant(variant: str, jobs: int, seed: int) -> VariantFigures:
    planned = plan_jobs(jobs, seed, VARIANTS[variant].workload)
    began = time.perf_counter()
    with quiet_backend() as logged:
        sweeping = VARIANTS[variant].sweep_mode is not None
        figures = run_sweep(planned, variant, seed) if sweeping else run_fixed_interval(planned, variant)
        if logged.count:
            figures.errors.append(f"the backend logged {logged.count} errors, first: {'; '.join(logged.first)}")
    figures.wall_seconds = time.perf_counter() - began
    return figures


# --- the parent: one child process per variant -------------------------------------------------------


def _run_children(jobs: dict[str, int], seed: int) -> list[VariantFigures]:
    """Runs each variant named in `jobs` (with that many jobs) in its own process, all at once."""
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as scratch, stop_children_on_sigterm():
        children: list[tuple[str, subprocess.Popen[bytes], Path, Path]] = []
        try:
            for variant, count in jobs.items():
                result_path, log_path = Path(scratch) / f"{variant}.json", Path(scratch) / f"{variant}.log"
                argv = [sys.executable, "-m", "bench.detection", variant, "--jobs", str(count), "--seed", str(seed)]
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


def _describe_mix(mix: tuple[tuple[float, tuple[int, int], dict[str, tuple[str, str]]], ...] = MIX) -> str:
    rows = []
    for share, (low, high), clips in mix:
        asked = ", ".join(f"{provider} {model} {seconds} s" for provider, (model, seconds) in clips.items())
        rows.append(f"{share:.0%} rendering {low}-{high} s ({asked})")
    return "; ".join(rows) + f"; queued {QUEUE_SECONDS[0]}-{QUEUE_SECONDS[1]} s"


def _detail_rows(figures: VariantFigures, planned: list[PlannedJob]) -> list[tuple[str, ...]]:
    """The variant's row for all its jobs, then one per clip of the mix."""
    rows = []
    labels = [None, *dict.fromkeys(job.label(figures.provider) for job in sorted(planned, key=lambda j: j.row))]
    for label in labels:
        retrieves, results, delays = figures.of_label(planned, label)
        whole = label is None
        rows.append(
            (
                figures.provider if whole else "",
                VARIANTS[figures.variant].title,
                f"{'all' if whole else label} ({len(retrieves)})",
                _median_p95(retrieves),
                _median_p95(results) if figures.provider == "fal" else "-",
                f"{statistics.mean(retrieves):.1f}" if retrieves else "-",
                _median_p95(delays, " s"),
                f"{max(delays):.0f} s" if delays else "-",
                f"{len(figures.failed)} / {figures.undetected(planned)}" if whole else "",
                f"{figures.virtual_seconds / 60:.0f} min" if whole else "",
                f"{figures.invocations} / {figures.passes}" if whole and figures.invocations else "",
                f"{figures.wall_seconds:.0f} s" if whole else "",
            )
        )
    return rows


def _summary_rows(figures: VariantFigures, planned: list[PlannedJob]) -> list[Row]:
    retrieves, _results, delays = figures.of_label(planned, None)
    targeted = VARIANTS[figures.variant].targeted
    median_retrieves = statistics.median(retrieves)
    p95_delay = percentile(delays, 0.95) if delays else math.inf
    return [
        Row(
            NAME,
            figures.name,
            f"provider retrieves per job, median of {len(retrieves)} (p95)",
            f"{median_retrieves:.1f} ({percentile(retrieves, 0.95):.0f})",
            f"≤ {TARGET_RETRIEVES_MEDIAN:.0f}" if targeted else "",
            verdict_at_most(median_retrieves, TARGET_RETRIEVES_MEDIAN, "retrieves") if targeted else "",
        ),
        Row(
            NAME,
            figures.name,
            "detection delay, p95 (p50)",
            f"{p95_delay:.1f} s ({statistics.median(delays):.1f} s)" if delays else "none seen",
            f"≤ {TARGET_DELAY_P95_SECONDS:.0f} s" if targeted else "",
            verdict_at_most(p95_delay, TARGET_DELAY_P95_SECONDS, "s") if targeted else "",
        ),
    ]


def _problems(figures: VariantFigures, planned: list[PlannedJob]) -> list[str]:
    """What makes the run fail: errors, jobs the backend failed though the provider finished them, jobs unseen."""
    problems = [f"{figures.name}: {error}" for error in figures.errors]
    if figures.failed:
        reasons = Counter(figures.failed.values())
        problems.append(
            f"{figures.name}: the backend ended {len(figures.failed)} jobs before it saw them finished, though the "
            f"provider finished every one as scripted: {dict(reasons)}"
        )
    if undetected := figures.undetected(planned):
        problems.append(f"{figures.name}: {undetected} jobs never seen as finished")
    return problems


def run(*, jobs: int = DEFAULT_JOBS, provider_jobs: int | None = None, seed: int = SEED) -> BenchmarkResult:
    """Every variant at once: the OpenAI ones with `jobs` jobs, fal's and Runway's with `provider_jobs`
    (default: as many), the first of the same seeded plan."""
    result = BenchmarkResult(NAME)
    others = jobs if provider_jobs is None else provider_jobs
    counts = {variant: jobs if spec.provider == "openai" else others for variant, spec in DETECTION_VARIANTS.items()}
    measured = _run_children(counts, seed)
    result.detail_headers = (
        "Provider",
        "Poller",
        "jobs",
        "retrieves per job: median / p95",
        "of them result GETs: median / p95",
        "mean",
        "detection delay: p50 / p95",
        "max",
        "failed / undetected",
        "virtual time",
        "invocations / passes",
        "wall time",
    )
    for figures in measured:
        planned = plan_jobs(figures.jobs, seed, VARIANTS[figures.variant].workload)
        result.detail_rows += _detail_rows(figures, planned)
        result.rows += _summary_rows(figures, planned)
        result.failures += _problems(figures, planned)
        unusual = {
            name: count
            for name, count in figures.outcomes.items()
            if name not in ("polled", "store_requested", "webhook refreshed")
        }
        if unusual:
            result.notes.append(f"{figures.name}: sweep outcomes besides polls: {unusual}")
    sizes = " and ".join(dict.fromkeys(f"{count} jobs" for count in counts.values()))
    result.notes.append(
        f"{sizes} submitted over {SUBMIT_WINDOW_SECONDS // 60} min (seed {seed}; fewer jobs are the first of the "
        f"same plan): {_describe_mix()}."
    )
    if others != jobs:
        result.notes.append(f"fal and Runway: {others} jobs per variant, OpenAI {jobs} (wall time).")
    result.notes.append(
        f"Sweeps: concurrency {SWEEP_CONCURRENCY}, moto in-process behind one lock, emulator latency 0, "
        f"invoked every {SCHEDULE_SECONDS} virtual s from 0 s with a {FUNCTION_TIMEOUT_SECONDS} s timeout; "
        f"fal with a runner per job (no job waits for one); the {len(measured)} variants ran at once, one "
        "process each."
    )
    result.notes.append(
        "Retrieves: GET /v1/videos/{id}; fal's GET …/status and GET of the result (its column); Runway's "
        "GET /v1/tasks/{id}. The store step is simulated, so its own reads (fal's result for the file URL, "
        "Runway's task for fresh output URLs) are in no variant."
    )
    if any(VARIANTS[figures.variant].provider_webhooks for figures in measured):
        result.notes.append(
            "(d): each webhook (OpenAI's video.completed, Standard Webhooks; fal's, ED25519) is signed by the "
            "emulator with its virtual clock and handled by ProviderWebhookReceiver or FalWebhookReceiver at the "
            "virtual instant the video finished (no network or handling time; `python -m bench --only "
            "webhook_latency` measures those on the wall clock)."
        )
    return result


PREDICTIONS_NAME = "predicted_polls"
PREDICTION_JOBS = 200


def _eta_error(figures: VariantFigures) -> str:
    if not figures.eta_errors:
        return "-"
    errors = figures.eta_errors
    return f"{statistics.median(errors):.0%} (p90 {percentile(errors, 0.9):.0%}, {len(errors)} samples)"


def run_predictions(*, jobs: int = PREDICTION_JOBS, seed: int = SEED) -> BenchmarkResult:
    """Issue 18: the predicted polls beside today's ladder, cold and warm, on the mixed workload and on one whose
    render times differ by model, for each provider, the sweep only; every variant at once, one process each."""
    result = BenchmarkResult(PREDICTIONS_NAME)
    measured = {figures.variant: figures for figures in _run_children(dict.fromkeys(PREDICTION_VARIANTS, jobs), seed)}
    result.detail_headers = (
        "Provider",
        "Schedule",
        "retrieves per job: median / p95",
        "detection delay: p50 / p95",
        "ETA error: median (p90)",
        "failed / undetected",
        "wall time",
    )
    for name, figures in measured.items():
        variant = VARIANTS[name]
        planned = plan_jobs(figures.jobs, seed, variant.workload)
        retrieves, _results, delays = figures.of_label(planned, None)
        result.detail_rows.append(
            (
                variant.provider,
                variant.title,
                _median_p95(retrieves),
                _median_p95(delays, " s"),
                _eta_error(figures),
                f"{len(figures.failed)} / {figures.undetected(planned)}",
                f"{figures.wall_seconds:.0f} s",
            )
        )
        result.failures += _problems(figures, planned)
        median_retrieves = statistics.median(retrieves)
        p95_delay = percentile(delays, 0.95) if delays else math.inf
        eta_error = statistics.median(figures.eta_errors) if figures.eta_errors else math.inf
        if variant.predicts:
            result.rows += [
                Row(
                    PREDICTIONS_NAME,
                    figures.name,
                    "provider retrieves per job, median",
                    f"{median_retrieves:.1f}",
                    f"≤ {TARGET_PREDICTED_RETRIEVES_MEDIAN:.0f}",
                    verdict_at_most(median_retrieves, TARGET_PREDICTED_RETRIEVES_MEDIAN, "retrieves"),
                ),
                Row(
                    PREDICTIONS_NAME,
                    figures.name,
                    "detection delay, p95",
                    f"{p95_delay:.1f} s",
                    f"≤ {TARGET_PREDICTED_DELAY_P95_SECONDS:.0f} s",
                    verdict_at_most(p95_delay, TARGET_PREDICTED_DELAY_P95_SECONDS, "s"),
                ),
                Row(
                    PREDICTIONS_NAME,
                    figures.name,
                    "ETA error, median share of the time left",
                    f"{eta_error:.0%}",
                    f"≤ {TARGET_ETA_ERROR_MEDIAN:.0%}",
                    verdict_at_most(100 * eta_error, 100 * TARGET_ETA_ERROR_MEDIAN, "points"),
                ),
            ]
        elif variant.poll_strategy == "predicted":  # cold: no worse than the ladder on either figure
            ladder = measured[name.removesuffix("-cold") + "-ladder"]
            ladder_retrieves, _, ladder_delays = ladder.of_label(planned, None)
            for figure, mine, theirs, unit in (
                ("provider retrieves per job, median", median_retrieves, statistics.median(ladder_retrieves), ""),
                ("detection delay, p95", p95_delay, percentile(ladder_delays, 0.95), " s"),
            ):
                result.rows.append(
                    Row(
                        PREDICTIONS_NAME,
                        figures.name,
                        figure,
                        f"{mine:.1f}{unit}",
                        f"≤ the ladder's {theirs:.1f}{unit}",
                        verdict_at_most(mine, theirs, unit.strip() or "retrieves"),
                    )
                )
    result.notes.append(
        f"{jobs} jobs per variant submitted over {SUBMIT_WINDOW_SECONDS // 60} min (seed {seed}); workloads: "
        f"mixed ({_describe_mix(MIX)}) and by-model ({_describe_mix(BY_MODEL_MIX)}). Warm variants start with "
        f"{WARM_HISTORY} finishes of each kind learned, drawn from the same workload (seed {seed + 1}). ETAs are "
        f"sampled every {ETA_SAMPLE_SECONDS} virtual s over each accepted job's life once {ETA_LEARNED_AFTER} jobs "
        "of its kind have finished, against the time the provider really takes; the ladder's is the ETA served "
        "before learning. The sweep only: continuous, no webhooks."
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
