"""Which job changes produce a webhook event, and the event itself.

Every job change is stamped by the lifecycle (`stamp_event`), which bumps the job's `event_sequence`
in the same conditional write. The table's change stream then carries the event out (an outbox): a
crash right after the write still delivers, because the stream record exists once the write does.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sorajobs.logic.render_times import PriorRenderTimes, RenderTimeLookup, estimate
from sorajobs.models.api import VideoJobResponse
from sorajobs.models.job import Job, JobStatus
from sorajobs.models.webhooks import WebhookEvent, WebhookEventType

# video.progress goes out at most this often per job, unless progress moved this many points.
PROGRESS_EVENT_MIN_INTERVAL = timedelta(seconds=10)
PROGRESS_EVENT_MIN_POINTS = 10


_STATUS_EVENTS = {
    JobStatus.QUEUED: WebhookEventType.QUEUED,
    JobStatus.IN_PROGRESS: WebhookEventType.IN_PROGRESS,
    JobStatus.COMPLETED: WebhookEventType.COMPLETED,
    JobStatus.FAILED: WebhookEventType.FAILED,
    JobStatus.CANCELLED: WebhookEventType.CANCELLED,
    JobStatus.RESET: WebhookEventType.RESET,
}


def event_type_for_change(before: Job | None, after: Job) -> WebhookEventType | None:
    """The event a write from `before` to `after` produces, if any."""
    if before is not None and after.attempt > before.attempt:
        return WebhookEventType.RESET  # a reset that started a new attempt at once
    if before is None or after.status is not before.status:
        return _STATUS_EVENTS.get(after.status)
    if after.status is JobStatus.IN_PROGRESS and after.progress != before.progress:
        moved = abs(after.progress - before.last_event_progress)
        since = after.updated_at - (before.last_event_at or before.created_at)
        if moved >= PROGRESS_EVENT_MIN_POINTS or since >= PROGRESS_EVENT_MIN_INTERVAL:
            return WebhookEventType.PROGRESS
    return None


def stamp_event(before: Job | None, after: Job) -> Job:
    """`after` with its event bookkeeping: carried over from `before`, or the next sequence number when
    the write produces an event."""
    kind = event_type_for_change(before, after)
    sequence = before.event_sequence if before else 0
    update: dict[str, object]
    if kind is not None:
        update = {
            "event_sequence": sequence + 1,
            "last_event_type": kind.value,
            "last_event_at": after.updated_at,
            "last_event_progress": after.progress,
        }
    else:
        update = {
            "event_sequence": sequence,
            "last_event_type": before.last_event_type if before else None,
            "last_event_at": before.last_event_at if before else None,
            "last_event_progress": before.last_event_progress if before else 0,
        }
    return after.model_copy(update=update)


def webhook_event_id(job_id: str, sequence: int) -> str:
    """Derived, not random: a stream record handled twice yields the same event."""
    digest = hashlib.sha256(f"{job_id}#{sequence}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def produced_event(before: Job | None, after: Job, render_times: RenderTimeLookup | None = None) -> WebhookEvent | None:
    """The event a stored change carries (from the stream's old and new images), if it produced one; its job's
    ETA from `render_times` (the catalog's typical times without)."""
    produced = after.event_sequence > (before.event_sequence if before else 0)
    if not produced or after.last_event_type is None:
        return None
    return WebhookEvent(
        id=webhook_event_id(after.id, after.event_sequence),
        type=WebhookEventType(after.last_event_type),
        created_at=after.last_event_at or after.updated_at,
        sequence=after.event_sequence,
        data=VideoJobResponse.from_job(after, estimate(after, after.updated_at, render_times or PriorRenderTimes())),
    )


def event_body(event: WebhookEvent) -> str:
    """The exact bytes sent (and signed); stored once, so every retry sends the same body."""
    return event.model_dump_json()
