"""Boundary models, settings and the DynamoDB item mapping."""

from __future__ import annotations

from datetime import UTC, datetime

from sorajobs.config import Settings
from sorajobs.dal.job_items import job_from_item, job_to_attributes, serialize
from sorajobs.logic.lifecycle import new_pending_job, transition_to_reset
from sorajobs.models.api import VideoJobResponse


def test_settings_read_lists_and_numbers_from_the_environment():
    settings = Settings.from_env(
        {"JOBS_TABLE_NAME": "jobs", "ALLOWED_MODELS": "wan-2.5, sora-2 ,", "STATUS_MIN_REFRESH_SECONDS": "2.5"}
    )

    assert settings.allowed_models == ("wan-2.5", "sora-2")
    assert settings.catalog.models[0].model == "wan-2.5"
    assert settings.status_min_refresh_seconds == 2.5


def test_a_job_survives_the_round_trip_through_a_dynamodb_item():
    now = datetime(2026, 11, 21, 12, 0, 0, 123000, tzinfo=UTC)  # poll times are stored in milliseconds
    job = new_pending_job(
        job_id="job_1",
        owner="u",
        prompt="p",
        model="sora-2",
        seconds="8",
        size="1280x720",
        metadata={"a": "b"},
        now=now,
    )
    job = transition_to_reset(job, now, resubmit=True).job

    assert job_from_item(serialize(job_to_attributes(job))) == job


def test_only_unfinished_jobs_carry_the_sparse_due_index_keys():
    now = datetime(2026, 11, 21, tzinfo=UTC)
    job = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=now
    )

    assert "due_shard" in job_to_attributes(job)
    assert "due_shard" not in job_to_attributes(transition_to_reset(job, now, resubmit=False).job)


def test_timestamps_in_the_api_are_utc_with_a_z_suffix():
    now = datetime(2026, 11, 21, 12, 0, 0, 5000, tzinfo=UTC)
    job = new_pending_job(
        job_id="job_1", owner="u", prompt="p", model="sora-2", seconds="4", size="720x1280", metadata={}, now=now
    )

    body = VideoJobResponse.from_job(job, None).model_dump(mode="json")

    assert body["created_at"] == "2026-11-21T12:00:00.005Z"
    assert body["completed_at"] is None
