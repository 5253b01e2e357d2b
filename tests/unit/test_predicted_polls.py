"""The predicted schedule: when each look at a job comes, from the learned render times and its progress."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from sorajobs.logic.lifecycle import apply_provider_video, new_pending_job, transition_to_submitted
from sorajobs.logic.render_times import learned
from sorajobs.logic.schedule import (
    FINISH_MARGIN_POINTS,
    FIRST_LOOK_SHARE,
    ONE_REPORT_SHARE,
    QUEUE_END_SHARE,
    PollSchedule,
)
from sorajobs.models.render_times import RenderTimeSums
from sorajobs.providers.base import ProviderState, ProviderVideo

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LEARNED_SECONDS = [100.0 + offset for offset in range(-10, 11)]  # 21 finishes of this kind, 90 to 110 s


class Learned:
    def distribution(self, job, phase="whole"):
        logs = [math.log(value) for value in LEARNED_SECONDS]
        return learned(job, RenderTimeSums(len(logs), sum(logs), sum(value * value for value in logs)))


SCHEDULE = PollSchedule(min_seconds=5, max_seconds=600, render_times=Learned(), rng=random.Random(1))


def queued(provider: str = "openai", model: str = "sora-2", seconds: str = "4"):
    pending = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model=model, seconds=seconds, size="720x1280", metadata={}, now=NOW
    ).model_copy(update={"provider": provider})
    return transition_to_submitted(pending, ProviderVideo(id="video_1", state=ProviderState.QUEUED), NOW).job


def seen(job, at: float, *, progress: int = 0, state: ProviderState = ProviderState.RUNNING):
    video = ProviderVideo(id="video_1", state=state, progress=progress)
    return apply_provider_video(job, video, NOW + timedelta(seconds=at), SCHEDULE).job


def look_after(job, at: float) -> float:
    return SCHEDULE.delay(job, NOW + timedelta(seconds=at)).total_seconds()


def test_the_first_look_comes_when_a_few_of_the_kind_would_have_finished():
    first = Learned().distribution(queued()).quantile(FIRST_LOOK_SHARE)

    assert 0.9 * first <= look_after(queued(), 0) <= first


def test_a_job_still_queued_at_a_look_is_looked_at_again_after_a_tenth_of_the_learned_median():
    job = seen(queued(), 85, state=ProviderState.QUEUED)

    assert look_after(job, 85) == pytest.approx(0.1 * Learned().distribution(job).quantile(0.5))


def test_one_report_sends_the_next_look_before_the_bound_it_gives_and_no_later_than_the_learned_median():
    job = seen(queued(), 80, progress=80)  # at most 20 s to go, had rendering begun at acceptance

    assert look_after(job, 80) == pytest.approx(min(20 * ONE_REPORT_SHARE, 100 - 80), abs=0.5)


def test_a_measured_rate_sends_the_look_just_before_the_finish_it_predicts():
    job = seen(seen(queued(), 20, progress=10), 120, progress=60)  # half a point a second: 80 s to go

    assert look_after(job, 120) == pytest.approx(80 - FINISH_MARGIN_POINTS * 2)


def test_a_provider_without_progress_that_names_no_place_is_looked_at_once_its_wait_has_most_likely_ended():
    job = queued("fal", "fal-ai/veo3/fast")  # no progress, and here no place in the queue either
    wait = Learned().distribution(job, "queue")
    first_finish = Learned().distribution(job, "rendering").quantile(FIRST_LOOK_SHARE)

    expected = min(wait.left_after(0, QUEUE_END_SHARE), first_finish)
    assert 0.9 * expected <= look_after(job, 0) <= expected


def test_the_ladder_is_still_there_for_comparison():
    ladder = PollSchedule(min_seconds=5, max_seconds=600, strategy="ladder", jitter_fraction=0)

    assert ladder.delay(queued(), NOW).total_seconds() == pytest.approx(9.0)  # a tenth of sora-2's typical 90 s


def test_a_fresh_job_whose_provider_start_is_a_fraction_of_a_second_earlier_still_gets_its_first_look():
    pending = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=NOW
    )
    now = NOW + timedelta(seconds=0.7)  # the provider's created_at is whole seconds: NOW
    video = ProviderVideo(id="video_1", state=ProviderState.QUEUED, created_at=int(NOW.timestamp()))
    job = transition_to_submitted(pending, video, now, SCHEDULE).job

    first = Learned().distribution(job).quantile(FIRST_LOOK_SHARE)
    assert 0.9 * first - 1 <= (job.next_poll_at - now).total_seconds() <= first
