"""The videos bucket: streamed multipart uploads with verification, and presigned downloads."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from sorajobs.models.job import StoredObject

# S3 needs parts of at least 5 MiB (but the last); 8 MiB keeps memory flat and a 1 GiB video in 128 parts.
PART_SIZE = 8 * 1024 * 1024


class UploadVerificationError(Exception):
    """The stored object does not match what was streamed."""


class VideoStorage:
    def __init__(self, s3_client: Any, bucket: str, *, part_size: int = PART_SIZE) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._part_size = part_size

    def upload_stream(
        self, key: str, chunks: Iterable[bytes], *, content_type: str, expected_bytes: int | None = None
    ) -> StoredObject:
        """Streams chunks into S3 as a multipart upload, hashing as it goes; memory stays at a few parts.

        Any failure aborts the upload, so no orphaned parts stay behind. An invocation that was killed
        mid-upload cannot abort; the caller clears what it left (`abort_unfinished_uploads`), and the
        bucket's lifecycle rule aborts anything still left after a day.
        """
        upload_id = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        try:
            digest = hashlib.sha256()
            parts: list[dict[str, Any]] = []
            total = 0
            buffer = bytearray()
            for chunk in chunks:
                digest.update(chunk)
                total += len(chunk)
                buffer += chunk
                while len(buffer) >= self._part_size:
                    part = bytes(memoryview(buffer)[: self._part_size])  # one copy, not two
                    del buffer[: self._part_size]
                    parts.append(self._upload_part(key, upload_id, len(parts) + 1, part))
            if buffer or not parts:
                parts.append(self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
            if expected_bytes is not None and total != expected_bytes:
                raise UploadVerificationError(f"received {total} bytes, the provider announced {expected_bytes}")
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except Exception:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            raise
        stored_bytes = self._s3.head_object(Bucket=self._bucket, Key=key)["ContentLength"]
        if stored_bytes != total:
            raise UploadVerificationError(f"S3 holds {stored_bytes} bytes of {key}, {total} were sent")
        return StoredObject(key=key, bytes=total, sha256=digest.hexdigest(), content_type=content_type)

    def abort_unfinished_uploads(self, prefix: str) -> None:
        """Aborts the multipart uploads of every key that starts with ``prefix``: what an invocation killed
        mid-upload left behind (a whole key, or a job attempt's folder)."""
        listing = self._s3.list_multipart_uploads(Bucket=self._bucket, Prefix=prefix)
        for upload in listing.get("Uploads", []):
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        # S3 checks each part against its SHA-256, so a part corrupted in transit is refused.
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def presigned_download_url(self, stored: StoredObject, *, expires_in: int, filename: str) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": stored.key,
                    "ResponseContentType": stored.content_type,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=expires_in,
            )
        )

    def presigned_image_upload(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A browser-style POST upload of one image: only this key, this content type, at most `max_bytes`."""
        form = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return {"url": str(form["url"]), "fields": {name: str(value) for name, value in form["fields"].items()}}

    def object_exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def presigned_image_url(self, key: str, *, expires_in: int) -> str:
        """What a provider fetches the image of an image-to-video job from."""
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
            )
        )
