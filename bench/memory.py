"""Peak resident memory of this process over a block of code."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from types import TracebackType

SAMPLE_SECONDS = 0.01
KIB = 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_kib() -> int:
    return _status_kib("VmRSS")


def _reset_high_water_mark() -> bool:
    """Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the mark covers the block only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") <= rss_kib() + 64


class PeakRss:
    """Baseline RSS on entry and peak RSS during the block (kernel high-water mark, sampled as a fallback).

    A sampler also records when the peak happened, so growth in the first and second half of the
    block can be compared: memory that scales with the data shows up as a larger second half.
    """

    def __init__(self) -> None:
        self.baseline_kib = 0
        self.peak_kib = 0
        self.first_half_peak_kib = 0
        self.second_half_peak_kib = 0
        self.seconds = 0.0
        self.method = ""
        self._samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        self._kernel_mark = False

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._samples.append((time.perf_counter(), rss_kib()))

    def __enter__(self) -> PeakRss:
        gc.collect()
        self._kernel_mark = _reset_high_water_mark()
        self.baseline_kib = rss_kib()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._started = time.perf_counter()
        self._sampler.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ended = time.perf_counter()
        self.seconds = ended - self._started
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        sampled = max((rss for _, rss in self._samples), default=self.baseline_kib)
        if self._kernel_mark:
            self.peak_kib = max(_status_kib("VmHWM"), sampled)
            self.method = "VmHWM reset via /proc/self/clear_refs, then read after the block"
        else:
            self.peak_kib = max(sampled, rss_kib())
            self.method = f"VmRSS sampled every {SAMPLE_SECONDS * 1000:.0f} ms"
        middle = self._started + self.seconds / 2
        self.first_half_peak_kib = max((rss for at, rss in self._samples if at < middle), default=self.baseline_kib)
        self.second_half_peak_kib = max((rss for at, rss in self._samples if at >= middle), default=self.baseline_kib)

    @property
    def growth_kib(self) -> int:
        return self.peak_kib - self.baseline_kib
