"""What a benchmark hands back, and the table `python -m bench` prints from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MET = "met"


@dataclass(frozen=True)
class Row:
    """One figure: what was measured, its value, and the target it is held against (if any)."""

    benchmark: str
    subject: str
    metric: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "MISSED by …", or "" when there is no target

    @property
    def missed(self) -> bool:
        return self.verdict.startswith("MISSED")


@dataclass
class BenchmarkResult:
    name: str
    rows: list[Row] = field(default_factory=list)
    # Wrong results (a hash mismatch, a crashed step): unlike a missed target, these make the run fail.
    failures: list[str] = field(default_factory=list)
    # Per-subject figures behind the summary rows, printed as their own table.
    detail_headers: tuple[str, ...] = ()
    detail_rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def verdict_at_most(value: float, limit: float, unit: str) -> str:
    return MET if value <= limit else f"MISSED by {value - limit:.0f} {unit}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def summary_table(results: Sequence[BenchmarkResult], *, markdown: bool = False) -> str:
    headers = ("Benchmark", "Subject", "Metric", "Value", "Target", "Verdict")
    rows = [
        (row.benchmark, row.subject, row.metric, row.value, row.target, row.verdict)
        for result in results
        for row in result.rows
    ]
    return format_table(headers, rows, markdown=markdown)
