"""The machine the figures come from, read from the machine itself."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _proc_field(path: str, name: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def describe() -> str:
    memory_kib = _proc_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kib.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kib else "unknown memory"
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (
        f"{usable} cores ({cpu}), {memory} RAM, {platform.system()} {platform.release()} {platform.machine()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}){load}"
    )
