"""`python -m bench` (`make bench`): runs every benchmark, or those named with --only, and prints the figures."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable

from bench import (
    cold_start,
    detection,
    lambda_cold_start,
    rate_burst,
    store_memory,
    sweep_throughput,
    webhook_latency,
)
from bench.machine import describe
from bench.report import BenchmarkResult, format_table, summary_table

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kib|mib|gib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_size(text: str) -> int:
    """A byte count: 1073741824, 512MiB, 1GiB, 1.5GiB."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1GiB, 256MiB or a byte count)")
    return int(float(match[1]) * _UNITS[(match[2] or "b").lower()])


def parse_counts(text: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers: 100,1000,5000."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive integers: {text!r} (try 100,1000,5000)")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=(
            cold_start.NAME,
            lambda_cold_start.NAME,
            store_memory.NAME,
            sweep_throughput.NAME,
            detection.NAME,
            detection.PREDICTIONS_NAME,
            rate_burst.NAME,
            webhook_latency.NAME,
        ),
        help="run this benchmark only (repeatable)",
    )
    parser.add_argument("--runs", type=int, default=cold_start.DEFAULT_RUNS, help="cold start: runs per function")
    parser.add_argument(
        "--source-runs",
        type=int,
        default=cold_start.DEFAULT_SOURCE_RUNS,
        help="cold start: runs per function without .pyc (0 skips them)",
    )
    parser.add_argument(
        "--lambda-rounds",
        type=int,
        default=lambda_cold_start.DEFAULT_ROUNDS,
        help="lambda cold start: interleaved rounds (each function and the baseline in every bytecode condition)",
    )
    parser.add_argument(
        "--video-size",
        type=parse_size,
        default=store_memory.DEFAULT_VIDEO_BYTES,
        help="store memory: size of the video (default 1GiB; accepts 256MiB, 2GiB, a byte count)",
    )
    parser.add_argument("--skip-naive", action="store_true", help="store memory: skip the read-it-all comparison")
    parser.add_argument(
        "--sweep-sizes",
        type=parse_counts,
        default=sweep_throughput.DEFAULT_SIZES,
        help="sweep throughput: numbers of due jobs (default 100,1000,5000)",
    )
    parser.add_argument(
        "--sweep-concurrency",
        type=parse_counts,
        default=sweep_throughput.DEFAULT_CONCURRENCIES,
        help="sweep throughput: sweep_concurrency values to time (default 32,64; at most 64)",
    )
    parser.add_argument(
        "--sweep-sequential-max",
        type=int,
        default=sweep_throughput.DEFAULT_SEQUENTIAL_MAX_JOBS,
        help="sweep throughput: time the sequential poller on sizes up to this many jobs (default 100; 0 skips it)",
    )
    parser.add_argument(
        "--detection-jobs",
        type=int,
        default=detection.DEFAULT_JOBS,
        help="detection: simulated jobs per variant (default 1000)",
    )
    parser.add_argument(
        "--prediction-jobs",
        type=int,
        default=detection.PREDICTION_JOBS,
        help=f"predicted_polls: simulated jobs per variant (default {detection.PREDICTION_JOBS})",
    )
    parser.add_argument(
        "--detection-provider-jobs",
        type=int,
        default=None,
        help="detection: simulated jobs per fal and Runway variant (default: as many as --detection-jobs)",
    )
    parser.add_argument(
        "--burst-clients", type=int, default=rate_burst.DEFAULT_CLIENTS, help="rate burst: clients (default 500)"
    )
    parser.add_argument(
        "--burst-seconds",
        type=int,
        default=rate_burst.DEFAULT_SECONDS,
        help="rate burst: virtual seconds of hammering (default 60)",
    )
    parser.add_argument(
        "--webhook-jobs",
        type=int,
        default=webhook_latency.DEFAULT_JOBS,
        help="webhook latency: measured jobs per mode (default 20)",
    )
    parser.add_argument(
        "--webhook-interval",
        type=float,
        default=webhook_latency.SUBMIT_INTERVAL_SECONDS,
        help="webhook latency: seconds between submissions (default 2)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed, not only on errors")
    return parser.parse_args(argv)


def print_result(result: BenchmarkResult, *, markdown: bool) -> None:
    print(f"\n## {result.name} ({result.seconds:.0f} s)\n")
    if result.detail_rows:
        print(format_table(result.detail_headers, result.detail_rows, markdown=markdown))
    for note in result.notes:
        print(f"- {note}")
    for failure in result.failures:
        print(f"- FAILED: {failure}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchmarks: dict[str, Callable[[], BenchmarkResult]] = {
        cold_start.NAME: lambda: cold_start.run(runs=args.runs, source_runs=args.source_runs),
        lambda_cold_start.NAME: lambda: lambda_cold_start.run(rounds=args.lambda_rounds),
        store_memory.NAME: lambda: store_memory.run(video_bytes=args.video_size, with_naive=not args.skip_naive),
        sweep_throughput.NAME: lambda: sweep_throughput.run(
            sizes=args.sweep_sizes,
            concurrencies=args.sweep_concurrency,
            sequential_max_jobs=args.sweep_sequential_max,
        ),
        detection.NAME: lambda: detection.run(jobs=args.detection_jobs, provider_jobs=args.detection_provider_jobs),
        detection.PREDICTIONS_NAME: lambda: detection.run_predictions(jobs=args.prediction_jobs),
        rate_burst.NAME: lambda: rate_burst.run(clients=args.burst_clients, seconds=args.burst_seconds),
        webhook_latency.NAME: lambda: webhook_latency.run(jobs=args.webhook_jobs, interval=args.webhook_interval),
    }
    selected = list(dict.fromkeys(args.only or benchmarks))
    print(f"Machine: {describe()}")
    started = time.monotonic()
    results: list[BenchmarkResult] = []
    for name in selected:
        print(f"Running {name} …", file=sys.stderr, flush=True)
        began = time.monotonic()
        try:
            result = benchmarks[name]()
        except Exception as error:  # one broken benchmark should not hide the others' figures
            result = BenchmarkResult(name, failures=[f"{type(error).__name__}: {error}"])
        result.seconds = time.monotonic() - began
        results.append(result)
        print_result(result, markdown=args.markdown)
    print("\n## Summary\n")
    print(summary_table(results, markdown=args.markdown))
    print(f"\nTotal: {time.monotonic() - started:.0f} s")
    failed = any(result.failures for result in results)
    missed = any(row.missed for result in results for row in result.rows)
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers and children are already stopped by their `with` blocks
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
