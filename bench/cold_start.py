"""Cold start: the time to import each function's handler module from the source tree, on the build Python.

bench/lambda_cold_start.py measures what Lambda runs (the built artifact on CPython 3.13, init and first
request); this one stays as the quick look at the source tree's imports, on whatever Python runs the bench.

Each run starts a new interpreter in functions/<dir>/ with a Lambda-like environment (tracing on,
as `Tracing: Active` makes it) and times `importlib.import_module("app")`, as the Lambda runtime
loads a handler. In sora_status it then times `import openai` and the provider module: the extra
cost of its first refresh from the provider. Two bytecode conditions:

- cached: .pyc files, compiled by a warm-up run into a scratch PYTHONPYCACHEPREFIX (what a layer
  with compiled bytecode would give);
- source: no bytecode for site-packages, the sorajobs package and the handler, as the layer was built
  before it shipped CPython 3.13 bytecode (issue 15), so every cold start compiled them. The standard
  library keeps its .pyc, as in the Lambda runtime.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.report import MET, BenchmarkResult, Row, verdict_at_most

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
SORAJOBS_SRC = ROOT / "layers" / "sorajobs" / "src"
NAME = "cold_start"
DEFAULT_RUNS = 5
# Compiling from source is slower and steadier; three runs keep `make bench` short.
DEFAULT_SOURCE_RUNS = 3
IMPORT_TARGET_MS = 400.0
# read_api never calls the provider: the import target is held against it (the brief's "provider-free" set).
PROVIDER_FREE_FUNCTIONS = ("read_api",)
# The function that imports openai only when a status call refreshes a job from the provider.
REFRESHING_FUNCTION = "sora_status"
HEAVIEST_SHOWN = 5

# The environment Lambda gives a function of template.yaml (Globals.Function), with placeholder resource names.
_LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "sora-jobs-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "JOBS_TABLE_NAME": "sora-jobs",
    "VIDEOS_BUCKET_NAME": "sora-jobs-videos",
    "STORE_VIDEO_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sora-jobs-store-video",
    "OPENAI_API_KEY_SECRET_NAME": "sora-jobs/openai-api-key",
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    "POWERTOOLS_SERVICE_NAME": "sora-jobs",
    "POWERTOOLS_METRICS_NAMESPACE": "SoraJobs",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

# Runs in the fresh interpreter (python -c, cwd = the function's directory, like /var/task). It imports
# nothing before the clock starts that the Lambda bootstrap would not already have loaded.
_CHILD_CODE = """
import importlib, os, sys, time

_roots = tuple(root for root in os.environ.pop("BENCH_SOURCE_ONLY_UNDER", "").split(os.pathsep) if root)
if _roots:
    import _frozen_importlib_external as _external

    _cached = _external.cache_from_source

    def _source_only(path, *args, **kwargs):
        if path.startswith(_roots):
            raise NotImplementedError  # the loader then compiles from source and writes nothing
        return _cached(path, *args, **kwargs)

    _external.cache_from_source = _source_only

before = len(sys.modules)
cpu_started = time.process_time()
started = time.perf_counter()
importlib.import_module("app")
handler_seconds = time.perf_counter() - started
handler_cpu_seconds = time.process_time() - cpu_started
loaded = set(sys.modules)
openai_seconds = provider_seconds = 0.0
if os.environ.get("BENCH_TIME_PROVIDER_IMPORT"):
    started = time.perf_counter()
    import openai
    openai_seconds = time.perf_counter() - started
    started = time.perf_counter()
    import sorajobs.providers.openai_videos
    provider_seconds = time.perf_counter() - started
import json
print(json.dumps({
    "handler_seconds": handler_seconds,
    "handler_cpu_seconds": handler_cpu_seconds,
    "modules": len(loaded) - before,
    "openai_at_import": "openai" in loaded,
    "openai_seconds": openai_seconds,
    "provider_seconds": provider_seconds,
}))
"""


@dataclass(frozen=True)
class Run:
    handler_ms: float
    handler_cpu_ms: float  # user + system CPU of the import: less sensitive than wall time to other load
    modules: int
    openai_at_import: bool
    openai_ms: float
    provider_ms: float


@dataclass(frozen=True)
class FunctionColdStart:
    function: str
    cached: list[Run]
    source: list[Run]
    heaviest: list[tuple[str, float]]  # package, import time in ms charged to it (one -X importtime run)

    @property
    def openai_at_import(self) -> bool:
        return any(run.openai_at_import for run in self.cached + self.source)


def function_dirs() -> list[str]:
    return sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py"))


def _environment(
    function_dir: Path, pycache: Path, *, source_only: bool, time_provider_import: bool = False
) -> dict[str, str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        # The bytecode cache lives in a scratch directory, so the benchmark writes nothing into the repo or venv.
        "PYTHONPYCACHEPREFIX": str(pycache),
        "LAMBDA_TASK_ROOT": str(function_dir),  # Powertools enables the tracer only inside Lambda
        "PYTHONHASHSEED": "0",
        **_LAMBDA_ENVIRONMENT,
    }
    if source_only:
        roots = (
            sysconfig.get_paths()["purelib"],
            sysconfig.get_paths()["platlib"],
            str(SORAJOBS_SRC),
            str(function_dir),
        )
        environment["BENCH_SOURCE_ONLY_UNDER"] = os.pathsep.join(dict.fromkeys(roots))
    if time_provider_import:
        environment["BENCH_TIME_PROVIDER_IMPORT"] = "1"
    return environment


def _run_once(function: str, pycache: Path, *, source_only: bool) -> Run:
    directory = FUNCTIONS_DIR / function
    time_provider_import = function == REFRESHING_FUNCTION
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD_CODE],
        cwd=directory,
        env=_environment(directory, pycache, source_only=source_only, time_provider_import=time_provider_import),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing functions/{function}/app.py failed:\n{completed.stderr[-2000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return Run(
        handler_ms=figures["handler_seconds"] * 1000,
        handler_cpu_ms=figures["handler_cpu_seconds"] * 1000,
        modules=figures["modules"],
        openai_at_import=figures["openai_at_import"],
        openai_ms=figures["openai_seconds"] * 1000,
        provider_ms=figures["provider_seconds"] * 1000,
    )


def _import_cost_by_package(function: str, pycache: Path) -> list[tuple[str, float]]:
    """One `-X importtime` run of the handler import, charged by package."""
    directory = FUNCTIONS_DIR / function
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=directory,
        env=_environment(directory, pycache, source_only=False),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return import_cost_by_package(completed.stderr)


def import_cost_by_package(importtime_output: str) -> list[tuple[str, float]]:
    """Self time per package of the handler module's (`app`) import, from `-X importtime` output, with the
    standard library charged to the nearest non-stdlib importer, so the figures add up to the whole import."""
    lines: list[tuple[int, str, float]] = []  # depth, module, self ms; children come before their parent
    for line in importtime_output.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        lines.append((depth, name.strip(), int(fields[0]) / 1000))
    top = next(index for index, (depth, name, _) in enumerate(lines) if depth == 0 and name == "app")
    totals: dict[str, float] = defaultdict(float)
    owners: list[tuple[int, str]] = []  # the chain of importers, walking the handler's subtree backwards
    for depth, name, self_ms in reversed(lines[: top + 1]):
        if depth == 0 and name != "app":
            break
        while owners and owners[-1][0] >= depth:
            owners.pop()
        package = name.split(".")[0]
        if name == "app":
            owner = "handler module"
        elif package in sys.stdlib_module_names:
            owner = owners[-1][1] if owners else "stdlib"
        else:
            owner = package
        owners.append((depth, owner))
        totals[owner] += self_ms
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:HEAVIEST_SHOWN]


def measure_function(function: str, runs: int, source_runs: int, pycache: Path) -> FunctionColdStart:
    _run_once(function, pycache, source_only=False)  # warm-up: compiles into the cache, fills the page cache
    cached = [_run_once(function, pycache, source_only=False) for _ in range(runs)]
    source = [_run_once(function, pycache, source_only=True) for _ in range(source_runs)]
    return FunctionColdStart(function, cached, source, _import_cost_by_package(function, pycache))


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(runs: list[Run]) -> str:
    values = [run.handler_ms for run in runs]
    cpu = _median([run.handler_cpu_ms for run in runs])
    return f"{_median(values):.0f} ms ({min(values):.0f}-{max(values):.0f}), CPU {cpu:.0f} ms"


def _provider_import_ms(runs: list[Run]) -> float:
    return _median([run.openai_ms + run.provider_ms for run in runs])


def run(*, runs: int = DEFAULT_RUNS, source_runs: int = DEFAULT_SOURCE_RUNS) -> BenchmarkResult:
    """`runs` fresh processes per function with cached .pyc, `source_runs` without (0 skips them)."""
    result = BenchmarkResult(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        measured = [measure_function(function, runs, source_runs, Path(pycache)) for function in function_dirs()]
    result.detail_headers = (
        "Function",
        f"import, cached .pyc: wall median (min-max) of {runs}, CPU median",
        f"import, no .pyc: wall median (min-max) of {source_runs}, CPU median",
        "modules loaded",
        "openai at import",
        "+ openai and provider module on first refresh (cached / no .pyc)",
        "import time by package (ms, cached .pyc; stdlib charged to its importer)",
    )
    for cold in measured:
        provider_import = "-"
        if cold.function == REFRESHING_FUNCTION:
            provider_import = f"{_provider_import_ms(cold.cached):.0f} ms"
            if cold.source:
                provider_import += f" / {_provider_import_ms(cold.source):.0f} ms"
        result.detail_rows.append(
            (
                cold.function,
                _spread(cold.cached),
                _spread(cold.source) if cold.source else "not run",
                str(round(_median([float(run.modules) for run in cold.cached]))),
                "yes" if cold.openai_at_import else "no",
                provider_import,
                ", ".join(f"{name} {ms:.0f}" for name, ms in cold.heaviest),
            )
        )
    by_name = {cold.function: cold for cold in measured}
    for function in PROVIDER_FREE_FUNCTIONS:
        cold = by_name[function]
        conditions = [(f"median of {runs}, cached .pyc", cold.cached)]
        if cold.source:
            conditions.append((f"median of {source_runs}, no .pyc, as the layer shipped before issue 15", cold.source))
        for condition, condition_runs in conditions:
            median = _median([run.handler_ms for run in condition_runs])
            cpu = _median([run.handler_cpu_ms for run in condition_runs])
            result.rows.append(
                Row(
                    NAME,
                    function,
                    f"handler import, wall time ({condition})",
                    f"{median:.0f} ms (CPU {cpu:.0f} ms)",
                    f"< {IMPORT_TARGET_MS:.0f} ms",
                    verdict_at_most(median, IMPORT_TARGET_MS, "ms"),
                )
            )
    with_openai = [cold.function for cold in measured if cold.openai_at_import]
    result.rows.append(
        Row(
            NAME,
            f"all {len(measured)} handlers",
            "handlers that import openai at import time",
            ", ".join(with_openai) if with_openai else "none",
            "none",
            MET if not with_openai else f"MISSED by {len(with_openai)}",
        )
    )
    refreshing = by_name[REFRESHING_FUNCTION]
    conditions = [("cached .pyc", refreshing.cached)] + ([("no .pyc", refreshing.source)] if refreshing.source else [])
    for condition, condition_runs in conditions:
        result.rows.append(
            Row(
                NAME,
                REFRESHING_FUNCTION,
                f"extra on the first refresh: import openai + provider module ({condition})",
                f"{_provider_import_ms(condition_runs):.0f} ms",
            )
        )
    return result
