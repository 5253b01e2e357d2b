"""Seeded interleavings: concurrent tasks that take turns, so that one seed gives one run.

Each task runs on its own thread, but only the task holding the turn runs. At every switch point (each
AWS call, each provider call, the wait for a busy lock) the running task hands the turn back, and the
seeded random source picks which ready task runs next. The tasks therefore still interleave at every
side effect, as Lambda invocations racing on the same table and provider do, but in an order that the
seed alone decides: a run repeats exactly, and a failing seed replays its failure.

Threads that are not tasks (the emulator's server threads, the test's main thread between runs) are
never held back: a switch point outside a task does nothing.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# Real seconds a run may go without any task taking a turn before it is declared stuck: a task then
# blocks on something outside the scheduler (a plain lock, a future), which would hang the run for good.
STALL_SECONDS = 120.0


class InterleavingStalled(RuntimeError):
    """No task could take a turn: one blocks outside the scheduler, or every task waits for a lock."""


@dataclass(eq=False)
class _Task:
    name: str
    run: Callable[[], None]
    # Shares the scheduler's lock; only the task given the turn is woken, not every waiting thread.
    turn: threading.Condition
    done: bool = False
    waiting_for: TurnLock | None = None
    error: BaseException | None = field(default=None, repr=False)


class TurnScheduler:
    """Runs tasks one at a time, switching between them at switch points in an order drawn from `seed`."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)  # the run's own waits: all done, or stalled
        self._tasks: list[_Task] = []
        self._running: _Task | None = None
        self._local = threading.local()
        self.switches = 0

    def run(self, tasks: Sequence[tuple[str, Callable[[], None]]]) -> None:
        """Runs the tasks to their end, interleaved; re-raises the first error a task raised."""
        with self._cond:
            if self._tasks:
                raise RuntimeError("a TurnScheduler runs one set of tasks at a time")
            self._tasks = [_Task(name, run, threading.Condition(self._mutex)) for name, run in tasks]
        threads = [
            threading.Thread(target=self._body, args=(task,), name=f"turn-{task.name}", daemon=True)
            for task in self._tasks
        ]
        for thread in threads:
            thread.start()
        with self._cond:
            self._pass_turn()
            self._wait_for_all_done()
            finished, self._tasks = self._tasks, []
        for thread in threads:
            thread.join()
        for task in finished:
            if task.error is not None:
                raise task.error

    def switch(self) -> None:
        """A switch point: the running task lets the seed choose who goes next (perhaps itself)."""
        task = self._current_task()
        if task is None:
            return
        with self._cond:
            self._pass_turn()
            self._wait_for_turn(task)

    def lock(self) -> TurnLock:
        """A mutex for tasks: waiting for it hands the turn on instead of blocking the whole run."""
        return TurnLock(self)

    # --- inside the scheduler (callers hold self._cond) ---------------------------------------

    def _current_task(self) -> _Task | None:
        task: _Task | None = getattr(self._local, "task", None)
        return task

    def _body(self, task: _Task) -> None:
        self._local.task = task
        with self._cond:
            self._wait_for_turn(task)
        try:
            task.run()
        except BaseException as error:  # handed to run(), which re-raises it
            task.error = error
        finally:
            with self._cond:
                task.done = True
                self._pass_turn()

    def _pass_turn(self) -> None:
        ready = [task for task in self._tasks if not task.done and task.waiting_for is None]
        self._running = self._random.choice(ready) if ready else None
        self.switches += 1
        if self._running is not None:
            self._running.turn.notify()
        self._cond.notify()

    def _wait_for_turn(self, task: _Task) -> None:
        self._wait(task.turn, lambda: self._running is task, f"{task.name} waited for its turn")

    def _wait_for_all_done(self) -> None:
        def settled() -> bool:
            all_done = all(task.done for task in self._tasks)
            if not all_done and self._running is None:
                waiting = [task.name for task in self._tasks if not task.done]
                raise InterleavingStalled(f"every unfinished task waits for a lock: {waiting}")
            return all_done

        self._wait(self._cond, settled, "the run waited for its tasks")

    def _wait(self, waiter: threading.Condition, condition: Callable[[], bool], what: str) -> None:
        while True:
            seen = self.switches
            if waiter.wait_for(condition, timeout=STALL_SECONDS):
                return
            if self.switches == seen:
                running = self._running.name if self._running else None
                raise InterleavingStalled(f"{what} for {STALL_SECONDS:.0f} s; the turn is with {running}")


class TurnLock:
    """A mutex whose waiters give up the turn. Outside a run (no task on this thread) it is a plain lock."""

    def __init__(self, scheduler: TurnScheduler) -> None:
        self._scheduler = scheduler
        self._plain = threading.Lock()
        self._owner: _Task | None = None

    def __enter__(self) -> None:
        scheduler = self._scheduler
        task = scheduler._current_task()
        if task is None:
            self._plain.acquire()
            return
        with scheduler._cond:
            while self._owner is not None:
                task.waiting_for = self
                scheduler._pass_turn()
                scheduler._wait_for_turn(task)
            self._owner = task

    def __exit__(self, *_exc: object) -> None:
        scheduler = self._scheduler
        if scheduler._current_task() is None:
            self._plain.release()
            return
        with scheduler._cond:
            self._owner = None
            for task in scheduler._tasks:
                if task.waiting_for is self:
                    task.waiting_for = None


class SwitchingProxy:
    """`target` with a switch point before each of its method calls (the provider client, for instance)."""

    def __init__(self, target: object, switch: Callable[[], None]) -> None:
        self._target = target
        self._switch = switch

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def switched(*args: object, **kwargs: object) -> object:
            self._switch()
            return attribute(*args, **kwargs)

        return switched


class InlineExecutor(Executor):
    """Runs each submitted call at once on the submitting thread: the sweep's workers, taking turns with
    the sweep itself, which a future-waiting thread pool could not do inside a TurnScheduler."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the future carries it, as a pool's would
            future.set_exception(error)
        return future


def inline_pool(_max_workers: int) -> Executor:
    return InlineExecutor()
