"""`make chaos`: the chaos suite at full size over several seeds, each seed in a process of its own.

    python -m tests.chaos --jobs 1000 --seed-count 5 --record     # the recorded seed and the next four
    python -m tests.chaos --jobs 1000 --seeds 20261123            # replay one seed exactly
    python -m tests.chaos --jobs 1000 --seeds 20261121 20261121   # a seed named twice must give one table

A seed decides a whole run (the faults, the kills, the clients, and the order in which concurrent
invocations interleave), so a seed that misses a target misses it again every time it is run.
--record writes each seed's table into docs/reliability.md, with the commit it ran on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from tests.chaos.harness import die_with_the_parent, run_seed

ROOT = Path(__file__).resolve().parents[2]
RELIABILITY_DOC = ROOT / "docs" / "reliability.md"
FIRST_SEED = 20261121
RESULTS_BEGIN, RESULTS_END = "<!-- chaos-results:begin -->", "<!-- chaos-results:end -->"


def commit() -> str:
    """The commit the run's code comes from, marked when the work tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "layers", "functions", "local", "tests")
    name = head or "unknown"
    return f"{name} with uncommitted changes" if dirty else name


def record(blocks: dict[int, str]) -> None:
    """Replaces each seed's block in docs/reliability.md (between the results markers), keeping the others."""
    doc = RELIABILITY_DOC.read_text()
    head, rest = doc.split(RESULTS_BEGIN, 1)
    inner, tail = rest.split(RESULTS_END, 1)
    kept: dict[int, str] = {}
    for chunk in inner.split("<!-- chaos-seed:")[1:]:
        seed = int(chunk.split(" ", 1)[0])
        kept[seed] = "<!-- chaos-seed:" + chunk.strip()
    kept.update({seed: f"<!-- chaos-seed:{seed} -->\n{block}" for seed, block in blocks.items()})
    body = "\n\n".join(kept[seed] for seed in sorted(kept))
    RELIABILITY_DOC.write_text(f"{head}{RESULTS_BEGIN}\n{body}\n{RESULTS_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per run (N)")
    parser.add_argument("--seeds", type=int, nargs="+", help="the seeds to run")
    parser.add_argument("--seed-count", type=int, default=5, help=f"without --seeds: {FIRST_SEED} and the next ones")
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 1, help="runs at once (one per core)")
    parser.add_argument("--record", action="store_true", help="write each seed's table into docs/reliability.md")
    args = parser.parse_args(argv)
    seeds = args.seeds or [FIRST_SEED + offset for offset in range(args.seed_count)]
    ran_on, today = commit(), datetime.now(UTC).date().isoformat()
    blocks: dict[int, str] = {}
    reports: dict[int, str] = {}
    missed: list[int] = []
    with ProcessPoolExecutor(
        max_workers=max(1, args.parallel),
        mp_context=get_context("spawn"),
        initializer=die_with_the_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(run_seed, args.jobs, seed) for seed in seeds]
        for future in as_completed(futures):
            seed, text, met, seconds = future.result()
            minutes, rest = divmod(round(seconds), 60)
            print(f"{text}\n(real time {minutes} min {rest} s)\n", flush=True)
            took = f"Ran on commit {ran_on}, {today}, in {minutes} min {rest} s of real time."
            if seed in reports:  # a seed named twice: its two runs must be the same run
                same = reports[seed] == text
                print(f"Seed {seed} ran twice: {'the same table both times' if same else 'TWO DIFFERENT RUNS'}.")
                took += " Run twice: the same table both times." if same else ""
                if not same:
                    missed.append(seed)
            reports[seed] = text
            blocks[seed] = f"{took}\n\n```\n{text}\n```"
            if not met:
                missed.append(seed)
    if args.record:
        record(blocks)
    print(f"Seeds {', '.join(map(str, sorted(blocks)))} at N={args.jobs}: ", end="")
    if not missed:
        print("every target met.")
        return 0
    print(f"targets missed at seed {', '.join(map(str, sorted(set(missed))))}.")
    for seed in sorted(set(missed)):
        print(f"  replay: make chaos SEEDS={seed} CHAOS_JOBS={args.jobs}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
