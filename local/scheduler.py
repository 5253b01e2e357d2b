"""EventBridge Scheduler stand-in: invokes PollSoraStatusFunction with its scheduled event on an interval."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from local.background import RepeatingThread
from local.lambda_runtime import ROOT, LocalFunctions

log = logging.getLogger("local.scheduler")

FUNCTION_ID = "PollSoraStatusFunction"
EVENT_PATH = ROOT / "events" / "poll_sora_status.json"
# rate(1 minute) in the template.
PRODUCTION_INTERVAL_SECONDS = 60.0


class PollSoraStatusScheduler:
    """`run_once()` is one scheduled invocation; `start()` repeats it every `interval_seconds` in a thread."""

    def __init__(self, functions: LocalFunctions, *, interval_seconds: float = PRODUCTION_INTERVAL_SECONDS) -> None:
        self.functions = functions
        self.interval_seconds = interval_seconds
        self.runs = 0
        self._template_event: dict[str, Any] = json.loads(EVENT_PATH.read_text())
        # An asynchronous invocation with no retries: the next tick is the retry.
        self._thread = RepeatingThread(
            "local-scheduler",
            self._run_and_log,
            log=log,
            failure_message=f"{FUNCTION_ID} failed; the next scheduled run retries",
            pause_seconds=interval_seconds,
            failure_pause_seconds=0.0,
            join_seconds=80.0,
        )

    def build_event(self, now: datetime | None = None) -> dict[str, Any]:
        event = copy.deepcopy(self._template_event)
        event["id"] = str(uuid.uuid4())
        event["time"] = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def run_once(self) -> dict[str, Any]:
        """One sweep, with a context whose remaining time starts at the function's Timeout (70 s)."""
        result: dict[str, Any] = self.functions.invoke(FUNCTION_ID, self.build_event())
        self.runs += 1
        return result

    def start(self) -> PollSoraStatusScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()

    def _run_and_log(self) -> None:
        outcome = self.run_once()
        if outcome.get("outcomes"):
            log.info("sweep: %s", outcome)
