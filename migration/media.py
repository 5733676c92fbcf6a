"""Copy legacy uploads to the media bucket under their item's keys, verified by SHA-256.

Each upload carries its SHA-256 (`ChecksumSHA256`), which S3 checks on arrival and keeps; a re-run asks S3 for the
stored checksum first and skips files that are already there unchanged, so resuming re-uploads nothing.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from migration.mapping import MediaFile

CONTENT_TYPES = {".webm": "audio/webm", ".png": "image/png", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
                 ".wav": "audio/wav", ".m4a": "audio/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def head_or_none(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """An object's HEAD with its stored checksum, or None when there is no such object."""
    try:
        return s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def stored_checksum(s3: Any, bucket: str, key: str) -> str | None:
    """The SHA-256 S3 keeps for an object (base64), or None when the object or its checksum is absent."""
    head = head_or_none(s3, bucket, key)
    return head.get("ChecksumSHA256") if head else None


class MediaCopier:
    def __init__(self, s3: Any, bucket: str, media_dir: Path) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.media_dir = media_dir

    def copy(self, media: MediaFile) -> bool:
        """Ensure the object is in S3 with this checksum. True when it had to be uploaded."""
        if stored_checksum(self.s3, self.bucket, media.key) == media.sha256:
            return False
        with open(self.media_dir / media.relative_path, "rb") as body:
            self.s3.put_object(Bucket=self.bucket, Key=media.key, Body=body, ChecksumAlgorithm="SHA256",
                               ChecksumSHA256=media.sha256, ContentType=content_type(media.relative_path))
        return True

    def copy_all(self, files: list[MediaFile]) -> int:
        """Copy a batch's files (all are in place afterwards); returns how many had to be uploaded."""
        return sum(self.copy(media) for media in files)
