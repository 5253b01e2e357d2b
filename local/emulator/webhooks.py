"""The Videos API's webhook events (``video.completed``, ``video.failed``); signed per Standard Webhooks and
delivered by the shared machinery of `local.emulation`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from local.emulation.standard_webhooks import sign

__all__ = ["WebhookEvent", "sign"]


@dataclass(frozen=True)
class WebhookEvent:
    """One provider event; ``id`` doubles as the ``webhook-id`` of every delivery attempt."""

    id: str
    type: str
    video_id: str
    created_at: int

    @classmethod
    def new(cls, type: str, video_id: str, created_at: int) -> WebhookEvent:
        return cls("evt_" + secrets.token_hex(16), type, video_id, created_at)

    def body(self) -> bytes:
        payload = {
            "id": self.id,
            "object": "event",
            "created_at": self.created_at,
            "type": self.type,
            "data": {"id": self.video_id},
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    def log_fields(self) -> dict[str, Any]:
        return {"event_id": self.id, "type": self.type, "video_id": self.video_id}
