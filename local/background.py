"""The daemon thread behind the local scheduler and pollers: one step, again and again, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class RepeatingThread:
    """Waits `pause_seconds`, runs `step`, and so on. A step that raises is logged with `failure_message`
    and followed by `failure_pause_seconds` more, as the event source it stands in for would retry."""

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        *,
        log: logging.Logger,
        failure_message: str,
        pause_seconds: float = 0.0,
        failure_pause_seconds: float = 1.0,
        join_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self._step = step
        self._log = log
        self._failure_message = failure_message
        self.pause_seconds = pause_seconds
        self._failure_pause_seconds = failure_pause_seconds
        self._join_seconds = join_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._join_seconds)
            self._thread = None

    def _run_forever(self) -> None:
        while not self._stopping.wait(self.pause_seconds):
            try:
                self._step()
            except Exception:
                self._log.exception(self._failure_message)
                self._stopping.wait(self._failure_pause_seconds)
