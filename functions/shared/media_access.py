"""Who may touch which media key, and short-lived URLs for reading them.

Keys are `<kind>/<owner id>/<file>` (functions/shared/storage.py), so ownership is a prefix check: a caller may only
name audio under `audio/<their id>/`. Responses carry presigned URLs that expire, never permanent ones.
"""

from __future__ import annotations

from typing import Any

from functions.shared.storage import media_key

READ_URL_SECONDS = 900
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's transcription limit: a larger recording could never be transcribed


def owns_media_key(user_id: str, key: str, kind: str) -> bool:
    prefix = media_key(kind, user_id, "x")[:-1]  # type: ignore[arg-type]
    rest = key[len(prefix):] if key.startswith(prefix) else ""
    return bool(rest) and "/" not in rest and rest not in {".", ".."}


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise


def read_url(s3: Any, bucket: str, key: str | None) -> str | None:
    if not key:
        return None
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                     ExpiresIn=READ_URL_SECONDS)
