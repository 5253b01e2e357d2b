"""Webhook delivery shared by the emulators: a sender thread with retries and a delivery log, and a scheduler that
looks for due events when the clock moves. Signing is the provider's: a `WebhookSigner` gives each attempt's headers
(Standard Webhooks HMAC in `local.emulation.standard_webhooks`; fal's ED25519 fits the same shape)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from local.emulation.clock import Clock, ManualClock

log = logging.getLogger("local.emulation")

SEND_TIMEOUT_SECONDS = 5.0
# Added to the wait for the next terminal moment, so the scan after waking does not land a hair early.
_WAKE_SLACK_SECONDS = 0.001
_JOIN_SECONDS = SEND_TIMEOUT_SECONDS + 1


class WebhookSigner(Protocol):
    def __call__(self, message_id: str, timestamp: int, body: bytes) -> Mapping[str, str]:
        """The headers that sign one attempt to deliver ``body`` (``timestamp``: unix seconds of the attempt)."""
        ...


class OutgoingWebhook(Protocol):
    """One provider event to deliver."""

    @property
    def id(self) -> str:
        """The message id, the same on every attempt (receivers deduplicate on it)."""
        ...

    def body(self) -> bytes: ...

    def log_fields(self) -> dict[str, Any]:
        """How the delivery log names the event (its id, type, the resource it is about)."""
        ...


@dataclass(frozen=True)
class WebhookTarget:
    """Where events go and how each attempt is signed."""

    url: str
    signer: WebhookSigner

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the webhook URL must be an http(s) URL, got {self.url!r}")


@dataclass
class _Delivery:
    event: OutgoingWebhook
    target: WebhookTarget
    generation: int
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.event.log_fields(),
            "attempts": [dict(attempt) for attempt in self.attempts],
            "delivered": self.delivered,
        }


class _Worker:
    """One daemon thread running ``run(stop)``, which waits on ``cond``: stopping sets ``stop`` and wakes it.
    Each start gets a fresh stop event, so a thread that outlives its join cannot be revived by a restart."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, name: str, run: Callable[[threading.Event], None]) -> None:
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=run, args=(stop,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        stop, thread = self._stop, self._thread
        self._stop = self._thread = None
        if stop is not None:
            stop.set()
            with self._cond:
                self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=_JOIN_SECONDS)


class WebhookSender:
    """Delivers events on one worker thread, so a slow receiver never holds up the API.

    A non-2xx answer or a network error is retried after each of ``retry_delays`` (real seconds), then given up.
    Deliveries waiting when the sender stops are kept and resume when it starts again.
    ``timestamp`` gives the timestamp each attempt is signed with (unix seconds; the wall clock by default).
    """

    def __init__(
        self,
        retry_delays: Sequence[float],
        *,
        timestamp: Callable[[], float] = time.time,
        logger: logging.Logger = log,
    ) -> None:
        if any(delay < 0 for delay in retry_delays):
            raise ValueError(f"webhook retry delays must not be negative, got {tuple(retry_delays)!r}")
        self._retry_delays = tuple(retry_delays)
        self._timestamp = timestamp
        self._logger = logger
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, _Delivery]] = []  # a heap on time.monotonic()
        self._order = itertools.count()
        self._in_flight = 0
        self._generation = 0
        self._log: list[_Delivery] = []
        self._worker = _Worker(self._cond)

    def start(self, name: str) -> None:
        self._worker.start(name, self._run)

    def stop(self) -> None:
        self._worker.stop()

    def submit(self, event: OutgoingWebhook, target: WebhookTarget) -> None:
        with self._cond:
            delivery = _Delivery(event, target, self._generation)
            self._log.append(delivery)
            self._schedule(delivery, 0.0)

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued, waiting for a retry or being sent; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._due and not self._in_flight, timeout)

    def log(self) -> list[dict[str, Any]]:
        with self._cond:
            return [delivery.to_dict() for delivery in self._log]

    def clear(self) -> None:
        """Forget the log and every delivery not yet sent (one being sent finishes, but is not retried)."""
        with self._cond:
            self._generation += 1
            self._due.clear()
            self._log.clear()
            self._cond.notify_all()

    def _schedule(self, delivery: _Delivery, delay: float) -> None:
        heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), delivery))
        self._cond.notify_all()

    def _run(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=SEND_TIMEOUT_SECONDS) as client:
            while (delivery := self._next_due(stop)) is not None:
                at = time.time()
                try:
                    status = self._attempt(client, delivery)
                except Exception:
                    self._logger.exception("emulator failed to send webhook %s", delivery.event.id)
                    status = 0
                self._settle(delivery, status, at)

    def _next_due(self, stop: threading.Event) -> _Delivery | None:
        """Block until a delivery is due and mark it in flight; None once the sender stops."""
        with self._cond:
            while not stop.is_set():
                wait = None
                if self._due:
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._due)[2]
                self._cond.wait(wait)
            return None

    def _attempt(self, client: httpx.Client, delivery: _Delivery) -> int:
        """POST the signed event once; the HTTP status, or 0 when no response came back."""
        event, target = delivery.event, delivery.target
        body = event.body()
        # The wall clock by default, not the emulator's: receivers check it against their own clock (±300 s).
        timestamp = int(self._timestamp())
        headers = {"content-type": "application/json", **target.signer(event.id, timestamp, body)}
        try:
            return client.post(target.url, content=body, headers=headers).status_code
        except httpx.HTTPError as error:
            self._logger.info("webhook %s to %s: %s", event.id, target.url, error)
            return 0

    def _settle(self, delivery: _Delivery, status: int, at: float) -> None:
        with self._cond:
            self._in_flight -= 1
            delivery.attempts.append({"status": status, "at": at})
            delivery.delivered = 200 <= status < 300
            tries = len(delivery.attempts)
            if delivery.delivered or delivery.generation != self._generation:
                pass
            elif tries <= len(self._retry_delays):
                self._schedule(delivery, self._retry_delays[tries - 1])
            else:
                self._logger.warning(
                    "webhook %s not delivered to %s after %d attempts; giving up",
                    delivery.event.log_fields(),
                    delivery.target.url,
                    tries,
                )
            self._cond.notify_all()


class WebhookScheduler:
    """Runs ``scan`` whenever events may have become due.

    A ManualClock is scanned on every move, synchronously on the thread that moved it. Any other clock is
    assumed to follow real time: a daemon thread sleeps until the next terminal moment ``scan`` returns
    (or until ``poke``), then scans again.
    """

    def __init__(self, clock: Clock, scan: Callable[[], float | None], *, logger: logging.Logger = log) -> None:
        self._clock = clock
        self._logger = logger
        self._scan = scan
        self._cond = threading.Condition()
        self._poked = False
        self._listening = False
        self._worker = _Worker(self._cond)

    def start(self, name: str) -> None:
        if isinstance(self._clock, ManualClock):
            self._clock.add_listener(self._on_clock_moved)
            self._listening = True
            self._scan()  # moments passed while the server was stopped
            return
        self._worker.start(name, self._run)

    def stop(self) -> None:
        if isinstance(self._clock, ManualClock):
            self._listening = False
            self._clock.remove_listener(self._on_clock_moved)
        self._worker.stop()

    def poke(self) -> None:
        """Something changed (a resource was created): look again now."""
        if isinstance(self._clock, ManualClock):
            if self._listening:
                self._scan()
            return
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def _on_clock_moved(self, _now: float) -> None:
        self._scan()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                next_due = self._scan()
            except Exception:
                self._logger.exception("emulator webhook scan failed")
                next_due = None
            with self._cond:
                if self._poked or stop.is_set():
                    self._poked = False
                    continue
                timeout = None if next_due is None else max(0.0, next_due - self._clock.now()) + _WAKE_SLACK_SECONDS
                self._cond.wait(timeout)
                self._poked = False
