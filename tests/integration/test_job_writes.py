"""The repository persists what the lifecycle gives it: a transition of the job that was read, nothing else."""

from __future__ import annotations

import pytest

from sorajobs.logic.lifecycle import transition_to_failed
from sorajobs.models.errors import TransitionConflict
from sorajobs.models.job import JobError


def test_a_job_changed_outside_the_lifecycle_is_refused_and_nothing_is_written(world):
    job = world.stored_job(world.submit().body["id"])

    with pytest.raises(ValueError, match="lifecycle transition"):
        world.services.jobs.save_transition(job, job.model_copy(update={"prompt": "something else"}))

    assert world.stored_job(job.id) == job


def test_a_transition_of_a_job_that_changed_since_it_was_read_is_a_conflict(world):
    job = world.stored_job(world.submit().body["id"])
    error = JobError(code="generation_failed", message="No.")
    world.services.jobs.save_transition(job, transition_to_failed(job, error, world.clock.now()).job)

    with pytest.raises(TransitionConflict):
        world.services.jobs.save_transition(job, transition_to_failed(job, error, world.clock.now()).job)
