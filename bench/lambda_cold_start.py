"""Lambda-like cold start: each function's init and first request, from the built artifact, on CPython 3.13.

- **The artifact:** the layer and every function are built the way `sam build` builds them (the same
  Makefiles: pip's wheels for python3.13, then runtime_bytecode.py's .pyc files) into a scratch folder, for this
  machine's CPU (`LAYER_PLATFORM`; the deployed layer is arm64, and bytecode does not depend on the CPU). The
  folder is made read-only (chmod a-w) and every child runs with PYTHONDONTWRITEBYTECODE=1; since root ignores
  file modes, the benchmark also checks that not one file of the folder changed, or fails.
- **The runtime:** the CPython 3.13 that compiled the bytecode (Debian trixie's, compiled standard library),
  one fresh process per cold start with PYTHONPATH = function folder, then layer (/var/task, /opt/python), the
  environment Lambda gives the function (template Globals resolved against the local stack, tracing and
  metrics on) and `bench/lambda_child.py` standing in for the runtime's bootstrap.
- **The first request:** a real one against the local stack (moto in server mode in this process, the
  provider emulators), with the function's event from events/: a fresh job for the functions that read one
  (submitted in this process through the submit function beforehand, not timed), a store message of a job
  finished at the provider for store_video, a new Idempotency-Key for each submit.
- **The baseline:** `bench/naive_handler/app.py`, submit's work written the common way (boto3, openai and
  pydantic imported and the clients built at the top), from the same layer folder, in the same run.
- **The floor:** `bench/floor_handler/app.py`, boto3 and a DynamoDB client at the top and one GetItem per
  request: what every function does at the least, so its ratio to the baseline bounds theirs from below.
- **Bytecode conditions:** `shipped` (the build's .pyc), `local cache` (the interpreter's own timestamp .pyc in
  a scratch PYTHONPYCACHEPREFIX, written by a warm-up run: what a writable cache would give) and `none` (the
  function's and the layer's modules compiled from source at every start, as the layer shipped before).
- **Noise:** the machine is shared, so the runs are interleaved: each round runs every function and the
  baseline in every condition, in an order shuffled per round (seeded), after one unmeasured warm-up of each;
  the figures are medians over the rounds.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_start import import_cost_by_package
from bench.report import MET, BenchmarkResult, Row

ROOT = Path(__file__).resolve().parent.parent
NAME = "lambda_cold_start"
DEFAULT_ROUNDS = 5
BUILD_DIR = ROOT / ".cache" / "lambda-bench"
RUNTIME_BYTECODE = ROOT / "layers" / "sorajobs" / "runtime_bytecode.py"
CHILD = Path(__file__).resolve().parent / "lambda_child.py"
NAIVE = "naive baseline"
FLOOR = "boto3 floor"
# The two references, each one module compiled like a function's code: not subjects with targets.
REFERENCE_SOURCES = {
    NAIVE: Path(__file__).resolve().parent / "naive_handler" / "app.py",
    FLOOR: Path(__file__).resolve().parent / "floor_handler" / "app.py",
}
CONDITIONS = ("shipped", "local_cache", "none")
CONDITION_LABELS = {"shipped": "bytecode as shipped", "local_cache": "warm local cache", "none": "no bytecode"}
RATIO_TARGET = 0.35  # every function's init + first request, as built, against the naive baseline's
SHIPPED_OVER_CACHE_TARGET = 0.10  # shipped bytecode at most 10 % slower than a warm local cache
SEED = 20261203
SAMPLE_JOB_ID = "job_0123456789abcdef01234567"
# The local stack's parameters: every first request does the same work in every round.
PARAMETERS = {
    "LogLevel": "ERROR",  # the in-process functions that seed the jobs log nothing; the children get INFO below
    "SweepMode": "one-shot",  # one pass, not the deployed ~50 s of passes
    "StatusMinRefreshSeconds": "0",  # each sora_status start refreshes from the provider
    "ProviderCreateRequestsPerMinute": "0",
    "ProviderRetrieveRequestsPerMinute": "0",
}
# Lambda's own variables beside the template's (tracing on: Tracing: Active).
LAMBDA_VARIABLES = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "_X_AMZN_TRACE_ID": "Root=1-6750a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    # The template's default LogLevel, and what Lambda sets for LogFormat: JSON.
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "PYTHONDONTWRITEBYTECODE": "1",
    "LANG": "C.UTF-8",
}
# Set locally for the in-process functions; in Lambda tracing and metrics are on.
LOCAL_ONLY = ("POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED")


@dataclass(frozen=True)
class Subject:
    name: str  # the function's folder, or a reference (NAIVE, FLOOR)
    logical_id: str
    event: str  # the events/ file of its first request


SUBJECTS = (
    Subject("submit", "SubmitFunction", "submit"),
    Subject("read_api", "ReadApiFunction", "read_api_get"),
    Subject("sora_status", "SoraStatusFunction", "sora_status"),
    Subject("reset", "ResetFunction", "cancel"),
    Subject("webhooks_api", "WebhooksApiFunction", "webhooks_api_list"),
    Subject("provider_webhook", "ProviderWebhookFunction", "provider_webhook"),
    Subject("poll_sora_status", "PollSoraStatusFunction", "poll_sora_status"),
    Subject("store_video", "StoreVideoFunction", "store_video"),
    Subject("webhook_events", "WebhookEventsFunction", "webhook_events"),
    Subject("deliver_webhook", "DeliverWebhookFunction", "deliver_webhook"),
    Subject(NAIVE, "NaiveSubmit", "submit"),
    Subject(FLOOR, "FloorGetItem", "poll_sora_status"),  # its event is not read
)


@dataclass(frozen=True)
class Start:
    init_ms: float
    invoke_ms: float
    init_cpu_ms: float
    cpu_ms: float  # init + first request
    modules_at_init: int
    openai_at_init: bool
    boto3_at_init: bool
    status: Any

    @property
    def total_ms(self) -> float:
        return self.init_ms + self.invoke_ms


# -- the artifact ----------------------------------------------------------------------------------


def runtime_python() -> str:
    return subprocess.run(
        [sys.executable, str(RUNTIME_BYTECODE), "python"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _make(makefile: Path, target: str, cwd: Path, artifacts: Path, **variables: str) -> None:
    artifacts.mkdir(parents=True, exist_ok=True)
    settings = [f"{name}={value}" for name, value in {"ARTIFACTS_DIR": str(artifacts), **variables}.items()]
    completed = subprocess.run(
        ["make", "--no-print-directory", "-s", "--makefile", str(makefile), target, *settings],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"make {target} failed:\n{completed.stderr[-3000:]}")


def build_artifact(build_dir: Path) -> dict[str, Path]:
    """Builds the layer and each function with their sam build Makefiles; the folder of each subject."""
    from local.template import function_handler

    if build_dir.exists():
        _writable(build_dir)
        shutil.rmtree(build_dir)
    layer_dir = ROOT / "layers" / "sorajobs"
    machine = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine()]
    _make(
        layer_dir / "Makefile",
        "build-SoraJobsLayer",
        layer_dir,
        build_dir / "SoraJobsLayer",
        LAYER_PLATFORM=f"manylinux2014_{machine}",
        PYTHON=sys.executable,
    )
    folders = {}
    for subject in SUBJECTS:
        artifacts = build_dir / subject.logical_id
        if subject.name in REFERENCE_SOURCES:
            artifacts.mkdir(parents=True)
            shutil.copy(REFERENCE_SOURCES[subject.name], artifacts / "app.py")
            subprocess.run(
                [sys.executable, str(RUNTIME_BYTECODE), "compile", str(artifacts), "--runtime-path", "/var/task"],
                check=True,
            )
        else:
            code_dir = ROOT / function_handler(subject.logical_id)[0]
            _make(ROOT / "functions" / "Makefile", f"build-{subject.logical_id}", code_dir, artifacts)
        folders[subject.name] = artifacts
    return folders


def _writable(folder: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(folder)], check=True)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (stat.st_size, stat.st_mtime_ns)
        for path in folder.rglob("*")
        for stat in [path.lstat()]
        if not path.is_dir()
    }


# -- the first requests ----------------------------------------------------------------------------


def _event(name: str, job_id: str | None = None) -> dict[str, Any]:
    text = (ROOT / "events" / f"{name}.json").read_text()
    if job_id is not None:
        text = text.replace(SAMPLE_JOB_ID, job_id)
    event: dict[str, Any] = json.loads(text)
    return event


class FirstRequests:
    """Builds each subject's event against the running stack, with the jobs it needs."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def submit_job(self) -> str:
        event = _event("submit")
        event["headers"].pop("idempotency-key", None)
        answer = self.stack.functions.invoke("SubmitFunction", event)
        if answer["statusCode"] != 202:
            raise RuntimeError(f"seeding a job failed: {answer}")
        job_id: str = json.loads(answer["body"])["id"]
        return job_id

    def store_message(self) -> dict[str, Any]:
        """A job the provider finished, refreshed so it asked for storing, and the store queue's message."""
        job_id = self.submit_job()
        self.stack.functions.invoke("SoraStatusFunction", _event("sora_status", job_id))
        sqs = self.stack.client("sqs")
        queue_url = self.stack.resources.queue_url
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                if json.loads(message["Body"])["job_id"] == job_id:
                    event = _event("store_video")
                    event["Records"][0]["body"] = message["Body"]
                    return event
        raise RuntimeError(f"no store message for {job_id}")

    def event(self, subject: Subject) -> dict[str, Any]:
        if subject.event == "submit":
            event = _event("submit")
            event["headers"]["idempotency-key"] = str(uuid.uuid4())
            return event
        if subject.event == "store_video":
            return self.store_message()
        if SAMPLE_JOB_ID in (ROOT / "events" / f"{subject.event}.json").read_text() and subject.event not in (
            "webhook_events",
            "deliver_webhook",
            "provider_webhook",
        ):
            return _event(subject.event, self.submit_job())
        return _event(subject.event)


# -- the runs --------------------------------------------------------------------------------------


@contextmanager
def _local_stack() -> Iterator[tuple[Any, dict[str, str]]]:
    """The stack, and what it set in the environment for the functions."""
    from local.emulator import EmulatorConfig
    from local.stack import LocalStack

    before = dict(os.environ)
    stack = LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=0, render_seconds=0),
        parameters=PARAMETERS,
        background=False,
        provider_webhooks=False,
    )
    with stack:
        changed = {name: value for name, value in os.environ.items() if before.get(name) != value}
        yield stack, {name: value for name, value in changed.items() if name not in LOCAL_ONLY}


class Runner:
    def __init__(self, python: str, folders: dict[str, Path], build_dir: Path, environment: dict[str, str]) -> None:
        self.python = python
        self.folders = folders
        self.build_dir = build_dir
        self.environment = environment
        self.scratch = Path(tempfile.mkdtemp(prefix="lambda-bench-"))
        self.pycache = self.scratch / "pycache"  # the warm local cache

    def run(self, subject: Subject, event: dict[str, Any], condition: str, *, importtime: bool = False) -> Start:
        folder = self.folders[subject.name]
        event_file, result_file = self.scratch / "event.json", self.scratch / "result.json"
        event_file.write_text(json.dumps(event))
        result_file.unlink(missing_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **self.environment,
            **LAMBDA_VARIABLES,
            "AWS_LAMBDA_FUNCTION_NAME": f"sora-jobs-{subject.logical_id}",
            "LAMBDA_TASK_ROOT": str(folder),
            "PYTHONPATH": os.pathsep.join([str(folder), str(self.build_dir / "SoraJobsLayer" / "python")]),
            "BENCH_BYTECODE": condition,
            "BENCH_ARTIFACT": str(self.build_dir),
            "BENCH_EVENT": str(event_file),
            "BENCH_RESULT": str(result_file),
        }
        if condition == "local_cache":
            environment["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        command = [self.python, "-P", *(["-X", "importtime"] if importtime else []), str(CHILD)]
        completed = subprocess.run(
            command, cwd=folder, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        if completed.returncode != 0 or not result_file.exists():
            failure = f"{subject.name} ({condition}) exited {completed.returncode}"
            raise RuntimeError(f"{failure}:\n{completed.stderr[-3000:]}")
        figures = json.loads(result_file.read_text())
        if figures["error"]:
            raise RuntimeError(f"{subject.name} ({condition}) raised:\n{figures['error'][-3000:]}")
        self.last_stderr = completed.stderr
        return Start(
            init_ms=figures["init_ms"],
            invoke_ms=figures["invoke_ms"],
            init_cpu_ms=figures["init_cpu_ms"],
            cpu_ms=figures["cpu_ms"],
            modules_at_init=figures["modules_at_init"],
            openai_at_init=figures["openai_at_init"],
            boto3_at_init=figures["boto3_at_init"],
            status=figures["status"] if figures["status"] is not None else figures["answer"],
        )

    def warm_local_cache(self, subject: Subject, event: dict[str, Any]) -> None:
        """One run that may write: fills PYTHONPYCACHEPREFIX (never the artifact) with timestamp .pyc files."""
        saved = LAMBDA_VARIABLES.pop("PYTHONDONTWRITEBYTECODE")
        try:
            self.run(subject, event, "local_cache")
        finally:
            LAMBDA_VARIABLES["PYTHONDONTWRITEBYTECODE"] = saved


def _failed_answer(subject: Subject, start: Start) -> str | None:
    status = start.status
    if isinstance(status, int):
        return None if status < 500 else f"{subject.name} answered {status}"
    if isinstance(status, dict) and status.get("batchItemFailures"):
        return f"{subject.name} reported failed records: {status['batchItemFailures']}"
    return None


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(rounds: int) -> tuple[dict[str, dict[str, list[Start]]], dict[str, list[tuple[str, float]]], list[str]]:
    python = runtime_python()
    folders = build_artifact(BUILD_DIR)
    subprocess.run(["chmod", "-R", "a-w", str(BUILD_DIR)], check=True)
    before = _snapshot(BUILD_DIR)
    starts: dict[str, dict[str, list[Start]]] = defaultdict(lambda: defaultdict(list))
    heaviest: dict[str, list[tuple[str, float]]] = {}
    notes: list[str] = []
    try:
        with _local_stack() as (stack, environment):
            requests = FirstRequests(stack)
            runner = Runner(python, folders, BUILD_DIR, environment)
            try:
                for subject in SUBJECTS:  # warm-ups: page cache, the local bytecode cache, the stack's first calls
                    runner.warm_local_cache(subject, requests.event(subject))
                    for condition in ("shipped", "none"):
                        runner.run(subject, requests.event(subject), condition)
                    runner.run(subject, requests.event(subject), "shipped", importtime=True)
                    heaviest[subject.name] = import_cost_by_package(runner.last_stderr)
                order = [(subject, condition) for subject in SUBJECTS for condition in CONDITIONS]
                shuffle = random.Random(SEED)
                for _ in range(rounds):
                    shuffle.shuffle(order)
                    for subject, condition in order:
                        start = runner.run(subject, requests.event(subject), condition)
                        if (failure := _failed_answer(subject, start)) is not None:
                            raise RuntimeError(failure)
                        starts[subject.name][condition].append(start)
            finally:
                shutil.rmtree(runner.scratch, ignore_errors=True)
    finally:
        after = _snapshot(BUILD_DIR)
        _writable(BUILD_DIR)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))[:5]
        raise RuntimeError(f"the read-only artifact changed during the runs: {changed}")
    notes.append(f"the artifact did not change during the runs ({len(before)} files checked)")
    return starts, heaviest, notes


def _figure(starts: list[Start], value: Callable[[Start], float]) -> float:
    return _median([value(start) for start in starts])


def _per_condition(runs: dict[str, list[Start]], value: Callable[[Start], float]) -> str:
    return " / ".join(f"{_figure(runs[condition], value):.0f}" for condition in CONDITIONS) + " ms"


def run(*, rounds: int = DEFAULT_ROUNDS) -> BenchmarkResult:
    """The verdicts are on CPU time (user + system of the child): on a shared machine the wall time also holds
    the waits for a core and for the local stack's servers, which run in this process."""
    result = BenchmarkResult(NAME)
    starts, heaviest, notes = measure(rounds)
    result.notes.extend(notes)
    naive_cpu = _figure(starts[NAIVE]["shipped"], lambda start: start.cpu_ms)
    naive_wall = _figure(starts[NAIVE]["shipped"], lambda start: start.total_ms)
    result.detail_headers = (
        "Function",
        f"CPU, init + first request: shipped / local cache / none (medians of {rounds})",
        "CPU, init / first request, shipped",
        "x naive (CPU, shipped)",
        "shipped vs local cache (CPU)",
        "wall, init + first request: shipped / local cache / none",
        "x naive (wall, shipped)",
        "modules at init",
        "openai / boto3 at init",
        "first answer",
        "import time by package (ms, one -X importtime run, shipped)",
    )
    for subject in SUBJECTS:
        runs = starts[subject.name]
        cpu = _figure(runs["shipped"], lambda start: start.cpu_ms)
        cached_cpu = _figure(runs["local_cache"], lambda start: start.cpu_ms)
        wall = _figure(runs["shipped"], lambda start: start.total_ms)
        init_cpu = _figure(runs["shipped"], lambda start: start.init_cpu_ms)
        first = runs["shipped"][0]
        result.detail_rows.append(
            (
                subject.name,
                _per_condition(runs, lambda start: start.cpu_ms),
                f"{init_cpu:.0f} / {cpu - init_cpu:.0f} ms",
                f"{cpu / naive_cpu:.2f}",
                f"{(cpu / cached_cpu - 1) * 100:+.0f} %",
                _per_condition(runs, lambda start: start.total_ms),
                f"{wall / naive_wall:.2f}",
                str(first.modules_at_init),
                f"{'yes' if first.openai_at_init else 'no'} / {'yes' if first.boto3_at_init else 'no'}",
                str(first.status if isinstance(first.status, int) else "ok"),
                ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest[subject.name]),
            )
        )
        if subject.name == NAIVE:
            result.rows.append(
                Row(
                    NAME,
                    NAIVE,
                    f"init + first request, shipped .pyc: CPU (wall), medians of {rounds}",
                    f"{cpu:.0f} ms ({wall:.0f} ms)",
                )
            )
            continue
        if subject.name == FLOOR:
            result.rows.append(
                Row(
                    NAME,
                    FLOOR,
                    "init + first request (boto3, a DynamoDB client, one GetItem), CPU against the naive baseline's",
                    f"{cpu / naive_cpu:.2f}x ({cpu:.0f} / {naive_cpu:.0f} ms; wall {wall / naive_wall:.2f}x)",
                )
            )
            continue
        ratio = cpu / naive_cpu
        result.rows.append(
            Row(
                NAME,
                subject.name,
                "init + first request as built, CPU against the naive baseline's in the same run (wall)",
                f"{ratio:.2f}x ({cpu:.0f} / {naive_cpu:.0f} ms; wall {wall / naive_wall:.2f}x)",
                f"≤ {RATIO_TARGET:.2f}x",
                MET if ratio <= RATIO_TARGET else f"MISSED by {ratio - RATIO_TARGET:.2f}x",
            )
        )
        slower = cpu / cached_cpu - 1
        over = (slower - SHIPPED_OVER_CACHE_TARGET) * 100
        result.rows.append(
            Row(
                NAME,
                subject.name,
                "bytecode as shipped against a warm local cache, CPU of init + first request",
                f"{slower * 100:+.0f} % ({cpu:.0f} / {cached_cpu:.0f} ms)",
                f"≤ +{SHIPPED_OVER_CACHE_TARGET * 100:.0f} %",
                MET if slower <= SHIPPED_OVER_CACHE_TARGET else f"MISSED by {over:.0f} %",
            )
        )
    result.notes.append(
        f"interleaved: {rounds} rounds, each running the {len(SUBJECTS)} subjects in the 3 conditions in a shuffled "
        f"order (seed {SEED}), after one unmeasured warm-up each; medians over the rounds"
    )
    return result
