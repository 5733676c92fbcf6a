"""`python -m migration.media_back`: the new stack's media back into the legacy uploads directory, for a rollback.

The reverse sync writes an image made on the new stack into MongoDB with the legacy path of its S3 object
(`/uploads/images/<file>`, `/uploads/audio/<file>`), but the object itself stays in the media bucket, where the
legacy app cannot serve it. Run this on the legacy host (before moving users back, and again after the rollback
for what was written meanwhile): it streams the image documents the new stack wrote (`origin: aws`) and downloads
each object to `<media-dir>/<kind>/<file>` — through a temporary file renamed into place, so the legacy app never
serves half a file; S3's checksum is validated on download when the object has one. A file already there with the
object's size (and SHA-256, when S3 keeps one) is skipped, so re-running copies only what is new.

Exit codes: 0 everything is in place, 1 some objects are missing from S3 or some paths are unusable (listed),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from functions.shared.legacy_documents import MEDIA
from functions.shared.versions import ORIGIN_ATTRIBUTE, ORIGIN_AWS
from migration.mapping import file_checksum
from migration.media import head_or_none
from migration.settings import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Settings,
    UsageError,
    add_connection_flags,
    check_mongo,
    check_targets,
    resolve,
)

CHUNK = 200  # documents in flight at once: memory stays flat whatever the collection's size
SAMPLE_LIMIT = 20


@dataclass(frozen=True)
class Download:
    image_id: str
    key: str  # the S3 object
    relative_path: str  # under --media-dir: `<kind>/<file>`


class Outcome:
    """Counts and a few example ids per outcome, shared by the download threads."""

    def __init__(self) -> None:
        self.counts = {"copied": 0, "present": 0, "missing": 0, "unusable": 0}
        self.samples: dict[str, list[str]] = {"missing": [], "unusable": []}
        self.lock = threading.Lock()

    def add(self, outcome: str, example: str = "") -> None:
        with self.lock:
            self.counts[outcome] += 1
            if outcome in self.samples and len(self.samples[outcome]) < SAMPLE_LIMIT:
                self.samples[outcome].append(example)


def downloads_of(doc: dict[str, Any], outcome: Outcome) -> Iterator[Download]:
    """The objects a new-stack image document points at, as files under the uploads directory."""
    for url_field, _, key_field, kind in MEDIA:
        url, key = doc.get(url_field), doc.get(key_field)
        if not isinstance(key, str) or not key:
            continue
        prefix = f"/uploads/{kind}/"
        name = url[len(prefix):] if isinstance(url, str) and url.startswith(prefix) else ""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            outcome.add("unusable", f"{doc['_id']} ({url_field}={url!r})")  # never written outside the directory
            continue
        yield Download(str(doc["_id"]), key, f"{kind}/{name}")


class MediaBack:
    def __init__(self, s3: Any, bucket: str, media_dir: Path, dry_run: bool) -> None:
        self.s3, self.bucket, self.media_dir, self.dry_run = s3, bucket, media_dir, dry_run

    def fetch(self, download: Download, outcome: Outcome) -> None:
        head = head_or_none(self.s3, self.bucket, download.key)
        if head is None:
            outcome.add("missing", f"{download.image_id} (s3://{self.bucket}/{download.key})")
            return
        target = self.media_dir / download.relative_path
        if target.is_file() and target.stat().st_size == head["ContentLength"] and (
                "ChecksumSHA256" not in head or file_checksum(target)[0] == head["ChecksumSHA256"]):
            outcome.add("present")
            return
        if not self.dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            os.close(handle)
            try:
                self.s3.download_file(self.bucket, download.key, temporary,
                                      ExtraArgs={"ChecksumMode": "ENABLED"})
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        outcome.add("copied")


def media_back(settings: Settings, dry_run: bool) -> Outcome:
    mongo = check_mongo(settings)
    outcome = Outcome()
    copier = MediaBack(settings.client("s3"), settings.media_bucket or "", settings.media_dir or Path("."), dry_run)
    fields = {"_id": 1, **{name: 1 for url, _, key, _ in MEDIA for name in (url, key)}}
    try:
        cursor = mongo[settings.mongo_db].images.find({ORIGIN_ATTRIBUTE: ORIGIN_AWS}, fields, batch_size=CHUNK)
        with ThreadPoolExecutor(max_workers=settings.workers) as pool:
            while docs := list(islice(cursor, CHUNK)):
                chunk = [download for doc in docs for download in downloads_of(doc, outcome)]
                list(pool.map(lambda download: copier.fetch(download, outcome), chunk))
    finally:
        mongo.close()
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migration.media_back", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog="example: python -m migration.media_back --stack prod --mongo-uri \"$MONGO_URI\" "
               "--media-dir /var/www/uploads", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    parser.add_argument("--dry-run", action="store_true", help="count what would be copied; write nothing")
    args = parser.parse_args(argv)
    try:
        if args.media_dir is None:
            raise UsageError("--media-dir (the legacy uploads directory to copy into) is required")
        settings = resolve(args)
        check_targets(settings, [], need_bucket=True)
        outcome = media_back(settings, args.dry_run)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    counts = outcome.counts
    verb = "would copy" if args.dry_run else "copied"
    print(f"media back into {settings.media_dir}: {verb} {counts['copied']:,}, already there {counts['present']:,}, "
          f"missing in S3 {counts['missing']:,}, unusable paths {counts['unusable']:,}")
    for name, examples in outcome.samples.items():
        if examples:
            print(f"  {name}: {', '.join(examples)}")
    return EXIT_FAILED if counts["missing"] or counts["unusable"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
