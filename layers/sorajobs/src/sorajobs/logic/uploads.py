"""Reference images for image-to-video, uploaded by the client straight to the bucket (a presigned POST that
admits one key, one image type and at most 10 MiB), under a folder of the caller's own."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sorajobs.clock import Clock
from sorajobs.dal.storage import VideoStorage
from sorajobs.models.api import MAX_IMAGE_BYTES, ImageUploadRequest, ImageUploadResponse

UPLOAD_WINDOW = timedelta(minutes=15)
UPLOADS_PREFIX = "uploads/"


def image_upload_key(owner: str, upload_id: str) -> str:
    """The owner's folder is a hash of the owner, so any subject is a safe key and one owner cannot name
    another's upload."""
    folder = hashlib.sha256(owner.encode()).hexdigest()[:32]
    return f"{UPLOADS_PREFIX}{folder}/{upload_id}"


class ImageUploads:
    def __init__(self, *, clock: Clock, storage: VideoStorage) -> None:
        self._clock = clock
        self._storage = storage

    def start(self, owner: str, request: ImageUploadRequest) -> ImageUploadResponse:
        upload_id = f"upl_{secrets.token_hex(16)}"
        form = self._storage.presigned_image_upload(
            image_upload_key(owner, upload_id),
            content_type=request.content_type,
            max_bytes=min(request.bytes, MAX_IMAGE_BYTES),
            expires_in=int(UPLOAD_WINDOW.total_seconds()),
        )
        expires_at = self._clock.now() + UPLOAD_WINDOW
        return ImageUploadResponse(upload_id=upload_id, url=form["url"], fields=form["fields"], expires_at=expires_at)
