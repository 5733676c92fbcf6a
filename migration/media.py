"""Copy legacy uploads to the media bucket under their item's keys, verified by SHA-256.

Each upload carries its SHA-256 (`ChecksumSHA256`), which S3 checks on arrival and keeps. A first load does not ask
before each upload: it PUTs with `If-None-Match: *` (S3's conditional write), so an object that is already there is
never overwritten blindly - S3 answers 412, and only then is its stored checksum compared (re-uploaded if it
differs). After the first 412 the copier asks first (HEAD) for every file, as a resumed load meets mostly files
that are there: resuming re-uploads nothing (at most `workers` files' bytes are sent before the switch, and S3
keeps none of them). Once `2 x workers` HEADs in a row find nothing, the resume is past what earlier runs
uploaded, and the copier goes back to conditional PUTs (no HEAD per file for the rest of the load).
"""

from __future__ import annotations

import mimetypes
import threading
from concurrent.futures import ThreadPoolExecutor
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
    """Uploads on a bounded pool of their own (`workers`, the `--media-workers` flag), shared by every writer
    thread: at most `workers` files are open and streaming at once, whatever the batch size or writer count."""

    def __init__(self, s3: Any, bucket: str, media_dir: Path, workers: int = 1) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.media_dir = media_dir
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media")
        self._ask_first = False
        self._absent_in_a_row = 0
        self._back_to_put_after = 2 * workers
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def copy(self, media: MediaFile) -> bool:
        """Ensure the object is in S3 with this checksum. True when it had to be uploaded."""
        if not self._ask_first:
            try:
                self._put(media, only_if_absent=True)
                return True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                    raise
                self._ask_first = True  # objects are there already: a resumed or repeated load
        head = head_or_none(self.s3, self.bucket, media.key)
        with self._lock:
            self._absent_in_a_row = self._absent_in_a_row + 1 if head is None else 0
            if self._absent_in_a_row >= self._back_to_put_after:
                self._ask_first = False  # past what earlier runs uploaded: new files from here on
        if head is not None and head.get("ChecksumSHA256") == media.sha256:
            return False
        self._put(media, only_if_absent=False)
        return True

    def _put(self, media: MediaFile, only_if_absent: bool) -> None:
        with open(self.media_dir / media.relative_path, "rb") as body:
            self.s3.put_object(Bucket=self.bucket, Key=media.key, Body=body, ChecksumAlgorithm="SHA256",
                               ChecksumSHA256=media.sha256, ContentType=content_type(media.relative_path),
                               **({"IfNoneMatch": "*"} if only_if_absent else {}))

    def copy_all(self, files: list[MediaFile]) -> int:
        """Copy a batch's files concurrently; returns once all are in place (the caller writes the items only
        then), or raises the first failure. Returns how many had to be uploaded."""
        return sum(self._pool.map(self.copy, files))
