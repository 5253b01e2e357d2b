"""A provider that reports no progress but says where a request waits in its queue and when its rendering began
(fal): the seconds per place and the rendering are learned apart, and the ETA and the looks follow from them."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from sorajobs.logic.lifecycle import apply_provider_video, new_pending_job, transition_to_submitted
from sorajobs.logic.render_times import estimate, learned
from sorajobs.logic.schedule import (
    BLIND_LOOK_SHARE,
    BLIND_STEP_SECONDS,
    BLIND_STEPS_ACROSS,
    FIRST_LOOK_SHARE,
    QUEUE_END_SHARE,
    PollSchedule,
)
from sorajobs.models.render_times import RenderPhase, RenderSample, RenderTimeSums
from sorajobs.providers.base import ProviderState, ProviderVideo

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# What 210 finishes of this kind taught (enough to outweigh the prior): 55 to 65 s of rendering, 4 to 6 s per
# place in the queue.
LEARNED = {
    "whole": [70.0 + offset for offset in range(-10, 11)] * 10,
    "rendering": [60.0 + offset / 2 for offset in range(-10, 11)] * 10,
    "queue_place": [5.0 + offset / 10 for offset in range(-10, 11)] * 10,
    "queue": [2.0 + offset for offset in range(0, 21)] * 10,  # 2 to 22 s in all: less regular than per place
}


class Learned:
    def distribution(self, job, phase: RenderPhase = "whole"):
        logs = [math.log(value) for value in LEARNED[phase]]
        return learned(job, RenderTimeSums(len(logs), sum(logs), sum(value * value for value in logs)), phase)


SCHEDULE = PollSchedule(min_seconds=1, max_seconds=600, render_times=Learned(), jitter_fraction=0, rng=random.Random(1))


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def queued_at_place(place: int):
    pending = new_pending_job(
        job_id="job_1",
        owner="u",
        prompt="p",
        model="fal-ai/veo3/fast",
        seconds="8",
        size="1280x720",
        metadata={},
        now=NOW,
    ).model_copy(update={"provider": "fal"})
    video = ProviderVideo(id="req_1", state=ProviderState.QUEUED, status="IN_QUEUE", queue_position=place)
    return transition_to_submitted(pending, video, NOW, SCHEDULE).job


def rendering_report(started: float | None) -> ProviderVideo:
    started_at = at(started).timestamp() if started is not None else None
    return ProviderVideo(id="req_1", state=ProviderState.RUNNING, status="IN_PROGRESS", started_at=started_at)


def test_a_job_first_seen_rendering_keeps_the_providers_start_and_teaches_the_seconds_per_place():
    job = queued_at_place(2)  # two ahead of it, seen at NOW

    change = apply_provider_video(job, rendering_report(started=12), at(20), SCHEDULE)

    assert change.job.provider_started_at == at(12)
    assert change.render_samples == (RenderSample("queue", 12.0), RenderSample("queue_place", 12 / 3))


def test_a_finish_teaches_the_whole_and_the_rendering_the_provider_timed():
    job = apply_provider_video(queued_at_place(0), rendering_report(started=5), at(10), SCHEDULE).job
    done = ProviderVideo(
        id="req_1",
        state=ProviderState.SUCCEEDED,
        status="COMPLETED",
        completed_at=int(at(66).timestamp()),
        started_at=at(5).timestamp(),
        render_seconds=61.0,
    )

    change = apply_provider_video(job, done, at(70), SCHEDULE)

    assert change.render_samples == (RenderSample("whole", 66.0), RenderSample("rendering", 61.0))
    assert change.detection_delay_seconds == pytest.approx(4.0)


def test_without_the_providers_start_the_rendering_is_timed_from_when_it_was_first_seen_rendering():
    job = apply_provider_video(queued_at_place(0), rendering_report(started=None), at(10), SCHEDULE).job
    done = ProviderVideo(
        id="req_1", state=ProviderState.SUCCEEDED, status="COMPLETED", completed_at=int(at(75).timestamp())
    )

    change = apply_provider_video(job, done, at(75), SCHEDULE)

    assert job.provider_started_at is None
    assert change.render_samples == (RenderSample("whole", 75.0),)  # no start the provider gave: no rendering


def test_a_queued_job_is_looked_at_once_its_place_says_it_has_most_likely_started():
    job = queued_at_place(2)
    place = Learned().distribution(job, "queue_place").times(3)
    rendering = Learned().distribution(job, "rendering")

    look = (job.next_poll_at - NOW).total_seconds()

    expected = min(
        place.quantile(QUEUE_END_SHARE), place.quantile(1 - QUEUE_END_SHARE) + rendering.quantile(FIRST_LOOK_SHARE)
    )
    assert look == pytest.approx(expected)
    assert 15 < look < 20  # three places of about 5 s: after the likely start, long before any finish


def test_a_rendering_job_is_looked_at_when_half_of_its_rendering_left_would_have_gone_by_timed_from_its_start():
    job = apply_provider_video(queued_at_place(0), rendering_report(started=5), at(10), SCHEDULE).job
    rendering = Learned().distribution(job, "rendering")

    look = (job.next_poll_at - at(10)).total_seconds()

    assert look == pytest.approx(rendering.left_after(5, BLIND_LOOK_SHARE))
    assert 50 < look < 60  # about 60 s of rendering, 5 of them gone


def test_the_eta_of_a_queued_job_is_its_place_times_the_seconds_per_place_plus_its_rendering():
    job = queued_at_place(2)

    eta = estimate(job, at(5), Learned())

    assert eta is not None
    assert eta.seconds == pytest.approx(3 * 5.0 - 5 + 60.0, abs=1.5)
    assert eta.low < eta.seconds < eta.high


def test_the_eta_of_a_rendering_job_is_its_rendering_left_from_the_providers_start():
    job = apply_provider_video(queued_at_place(0), rendering_report(started=5), at(10), SCHEDULE).job

    eta = estimate(job, at(35), Learned())

    assert eta is not None
    assert eta.seconds == pytest.approx(60.0 - 30, abs=1.5)
    assert eta.low < eta.seconds < eta.high


def test_a_long_regular_rendering_is_watched_in_steps_across_its_likely_end():
    class LongRendering(Learned):
        def distribution(self, job, phase: RenderPhase = "whole"):
            logs = [math.log(400.0 + offset * 2) for offset in range(-10, 11)] * 3  # 63 finishes, 380 to 420 s
            return learned(job, RenderTimeSums(len(logs), sum(logs), sum(value * value for value in logs)), phase)

    schedule = PollSchedule(min_seconds=1, max_seconds=600, render_times=LongRendering(), jitter_fraction=0)
    job = apply_provider_video(queued_at_place(0), rendering_report(started=10), at(10), schedule).job
    rendering = LongRendering().distribution(job, "rendering")
    first, last = rendering.left_after(0, 0.05), rendering.left_after(0, 0.95)

    look = (job.next_poll_at - at(10)).total_seconds()

    assert look == pytest.approx(first + max(BLIND_STEP_SECONDS, (last - first) / BLIND_STEPS_ACROSS))
    assert look < rendering.left_after(0, BLIND_LOOK_SHARE)  # sooner than half of it: a job ending early is seen


def test_where_places_do_not_hold_a_request_back_the_wait_in_all_predicts_a_queued_job():
    class PlacesMeanNothing(Learned):
        def distribution(self, job, phase: RenderPhase = "whole"):
            if phase == "queue_place":  # waits of 2 to 22 s read at places 0 to 9: per place, all over
                samples = [(2.0 + wait) / (place + 1) for wait in range(21) for place in range(10)]
            elif phase == "queue":
                samples = [8.0 + offset / 5 for offset in range(-10, 11)] * 10  # about 8 s, whatever the place
            else:
                return super().distribution(job, phase)
            logs = [math.log(max(value, 1.0)) for value in samples]
            return learned(job, RenderTimeSums(len(logs), sum(logs), sum(value * value for value in logs)), phase)

    job = queued_at_place(6)
    lookup = PlacesMeanNothing()
    in_all = lookup.distribution(job, "queue")

    eta = estimate(job, at(3), lookup)

    assert lookup.distribution(job, "queue_place").sigma > in_all.sigma
    expected = in_all.left_after(3, 0.5) + lookup.distribution(job, "rendering").quantile(0.5)
    assert eta is not None and eta.seconds == round(expected)  # not 7 places times the wait per place
