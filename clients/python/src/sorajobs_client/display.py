"""The live display of a wait on a terminal (rich): status, provider, queue, progress bar, elapsed, ETA, cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sorajobs_client._core import Progress as WaitProgress
from sorajobs_client._core import ProgressCallback
from sorajobs_client.client import SoraJobs
from sorajobs_client.models import Job

STATUS_STYLES = {
    "pending": "yellow",
    "queued": "yellow",
    "in_progress": "cyan",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "magenta",
    "reset": "magenta",
}
BAR_WIDTH = 32


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def status_line(job: Job) -> str:
    """One plain line per observation, for logs (a wait whose stderr is not a terminal)."""
    queue = f", {job.queue_position} ahead" if job.queue_position is not None else ""
    return f"{job.id} {job.status} {job.progress}%{queue}"


class LiveJobDisplay:
    """A few lines redrawn in place while a wait runs; the clock ticks between polls too."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self._console, self._clock = console, clock
        self._started = clock()
        self._seen_at = self._started
        self._progress: WaitProgress | None = None
        self._live = Live(self, console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveJobDisplay:
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()

    def update(self, progress: WaitProgress) -> None:
        self._progress, self._seen_at = progress, self._clock()
        self._live.refresh()

    def __rich__(self) -> RenderableType:
        now = self._clock()
        if self._progress is None:
            return Text(f"Waiting for the first status...  {clock_text(now - self._started)}", style="dim")
        job = self._progress.job
        heading = Text.assemble(
            (job.id, "bold"), f"  {job.provider} · {job.model} · {job.seconds} s · {job.size}  attempt {job.attempt}"
        )
        status = "storing" if self._progress.storing else job.status
        bar_line = Table.grid(padding=(0, 1))
        bar_line.add_row(
            Text(f"{status:<11}", style=STATUS_STYLES.get(job.status, "")),
            self._bar(job),
            Text(f"{job.progress:3d}%"),
        )
        return Group(heading, bar_line, Text("  ".join(self._facts(job, now)), style="dim"))

    def _bar(self, job: Job) -> ProgressBar:
        # Before any progress (queued, or a provider that reports none) the bar pulses instead of sitting at 0.
        moving = job.progress == 0 and not job.finished
        return ProgressBar(total=None if moving else 100, completed=job.progress, width=BAR_WIDTH)

    def _facts(self, job: Job, now: float) -> list[str]:
        facts = []
        if job.queue_position is not None:
            facts.append(f"queue: {job.queue_position} ahead")
        facts.append(f"elapsed {clock_text(now - self._started)}")
        if job.eta_seconds is not None and not job.finished:
            waited = now - self._seen_at
            eta = f"ETA ~{clock_text(job.eta_seconds - waited)}"
            if job.eta_low_seconds is not None and job.eta_high_seconds is not None and job.eta_high_seconds > 0:
                low, high = clock_text(job.eta_low_seconds - waited), clock_text(job.eta_high_seconds - waited)
                eta += f" ({low} to {high})"
            facts.append(eta)
        facts.append(f"cost ${job.estimated_cost_usd:.2f}")
        return facts


def download_progress(console: Console) -> Progress:
    """A byte counter for downloads."""
    return Progress(
        TextColumn("downloading"),
        BarColumn(bar_width=BAR_WIDTH),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )


def wait_with_display(
    api: SoraJobs,
    job_id: str,
    console: Console,
    *,
    timeout: float,
    on_progress: ProgressCallback | None = None,
    log_lines: bool = True,
) -> Job:
    """`api.wait` drawn live on a terminal console; elsewhere one line per change (unless log_lines is off)."""
    if console.is_terminal:
        with LiveJobDisplay(console) as display:

            def show(progress: WaitProgress) -> None:
                if on_progress is not None:
                    on_progress(progress)
                display.update(progress)

            return api.wait(job_id, timeout=timeout, on_progress=show)
    last_line = [""]

    def log(progress: WaitProgress) -> None:
        if on_progress is not None:
            on_progress(progress)
        if (line := status_line(progress.job)) != last_line[0] and log_lines:
            console.print(line, highlight=False, markup=False)
        last_line[0] = line

    return api.wait(job_id, timeout=timeout, on_progress=log)
