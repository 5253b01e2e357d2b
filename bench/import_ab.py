"""An interleaved A/B of handler imports: the shared package at a git revision against the working tree.

For a change too small for lambda_cold_start's three to five rounds to show (its ratios move by ±0.15 between
runs), this times only the handler module's import, many times, on the CPython 3.13 that lambda_cold_start
builds with and against the layer it built (`.cache/lambda-bench`; run that benchmark once first). Each round
runs every function with both trees in a shuffled order; the first round is a warm-up (it fills each tree's
`__pycache__`) and is not counted. The figure is the child's CPU time (user + system), median over the rounds.

    .venv/bin/python -m bench.import_ab --before fa9e030~1 read_api webhooks_api sora_status
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.lambda_cold_start import BUILD_DIR, runtime_python

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_SOURCE = "layers/sorajobs/src"
CHILD_CODE = (
    "import resource, app; usage = resource.getrusage(resource.RUSAGE_SELF); "
    "print((usage.ru_utime + usage.ru_stime) * 1000)"
)
SEED = 1


def export_package(revision: str, into: Path) -> Path:
    """The shared package's source at `revision`, written under `into`; the folder to put on PYTHONPATH."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, PACKAGE_SOURCE], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / PACKAGE_SOURCE


def import_cpu_ms(python: str, function: str, package: Path) -> float:
    layer = BUILD_DIR / "SoraJobsLayer" / "python"
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'functions' / function}:{package}:{layer}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "import-ab",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
    }
    completed = subprocess.run(
        [python, "-c", CHILD_CODE],
        env=environment,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing {function} failed:\n{completed.stderr[-2000:]}")
    return float(completed.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_ab", description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (one more warms up)")
    parser.add_argument("functions", nargs="+", help="folders under functions/")
    args = parser.parse_args(argv)
    if not (BUILD_DIR / "SoraJobsLayer" / "python").is_dir():
        print("run `python -m bench --only lambda_cold_start` once first: it builds the layer", file=sys.stderr)
        return 2
    python = runtime_python()
    with tempfile.TemporaryDirectory(prefix="import-ab-") as scratch:
        trees = {
            f"before ({args.before})": export_package(args.before, Path(scratch) / "before"),
            "working tree": ROOT / PACKAGE_SOURCE,
        }
        order = [(function, label) for function in args.functions for label in trees]
        shuffle = random.Random(SEED)
        figures: dict[tuple[str, str], list[float]] = {key: [] for key in order}
        for round_number in range(args.rounds + 1):
            shuffle.shuffle(order)
            for function, label in order:
                cpu = import_cpu_ms(python, function, trees[label])
                if round_number > 0:
                    figures[(function, label)].append(cpu)
    before_label, after_label = trees
    print(f"| function | {before_label}, ms | working tree, ms | change |")
    print("|---|---|---|---|")
    for function in args.functions:
        before = statistics.median(figures[(function, before_label)])
        after = statistics.median(figures[(function, after_label)])
        print(f"| {function} | {before:.0f} | {after:.0f} | {(after / before - 1) * 100:+.0f} % |")
    print(f"\nImport CPU, medians of {args.rounds} interleaved rounds after one warm-up, CPython 3.13 ({python}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
