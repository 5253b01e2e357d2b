"""The chaos suite's seeded interleaving (tests/chaos/turns.py): a seed decides the order, and only one
task runs at a time."""

from __future__ import annotations

import time

import pytest

from tests.chaos.turns import InterleavingStalled, TurnScheduler


def _interleaving(seed: int) -> list[str]:
    scheduler = TurnScheduler(seed)
    order: list[str] = []

    def task(name: str) -> None:
        for step in range(5):
            order.append(f"{name}{step}")
            scheduler.switch()

    scheduler.run([(name, lambda name=name: task(name)) for name in "abc"])
    return order


def test_a_seed_gives_the_same_interleaving_every_time():
    assert _interleaving(7) == _interleaving(7)


def test_other_seeds_give_other_interleavings():
    assert len({tuple(_interleaving(seed)) for seed in range(10)}) > 1


def test_every_step_of_every_task_runs_in_its_own_order():
    order = _interleaving(3)

    assert sorted(order) == sorted(f"{name}{step}" for name in "abc" for step in range(5))
    for name in "abc":
        assert [step for step in order if step.startswith(name)] == [f"{name}{n}" for n in range(5)]


def test_only_one_task_runs_between_switches():
    scheduler = TurnScheduler(1)
    overlaps: list[str] = []
    active: list[str] = []

    def task(name: str) -> None:
        for _ in range(20):
            active.append(name)
            time.sleep(0.001)  # lets any other thread that could run, run
            if active != [name]:
                overlaps.append(f"{name} ran beside {active}")
            active.remove(name)
            scheduler.switch()

    scheduler.run([(f"t{n}", lambda n=n: task(f"t{n}")) for n in range(4)])

    assert overlaps == []


def test_a_turn_lock_holder_keeps_it_across_switches_while_others_wait_their_turn():
    scheduler = TurnScheduler(5)
    lock = scheduler.lock()
    inside: list[str] = []

    def task(name: str) -> None:
        with lock:
            inside.append(f"{name} in")
            scheduler.switch()
            scheduler.switch()
            inside.append(f"{name} out")

    scheduler.run([(name, lambda name=name: task(name)) for name in "xyz"])

    assert all(inside[i].split()[0] == inside[i + 1].split()[0] for i in range(0, len(inside), 2))


def test_an_error_in_a_task_reaches_the_caller_after_the_others_finish():
    scheduler = TurnScheduler(2)
    finished: list[str] = []

    def failing() -> None:
        scheduler.switch()
        raise ValueError("boom")

    def fine() -> None:
        scheduler.switch()
        finished.append("fine")

    with pytest.raises(ValueError, match="boom"):
        scheduler.run([("failing", failing), ("fine", fine)])
    assert finished == ["fine"]


def test_tasks_that_all_wait_for_a_lock_held_by_none_of_them_are_reported_not_hung():
    scheduler = TurnScheduler(4)
    lock = scheduler.lock()

    def holds_forever() -> None:
        lock.__enter__()  # never released: the other task can never run again

    def waits() -> None:
        scheduler.switch()
        with lock:
            pass

    with pytest.raises(InterleavingStalled):
        scheduler.run([("holder", holds_forever), ("waiter", waits)])
