"""`python -m migration.media_back`: images made on the new stack reach the legacy uploads directory before a
rollback, against a real MongoDB wire server and the local AWS endpoint."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from functions.shared.legacy_documents import legacy_document
from functions.shared.versions import ORIGIN_AWS, ORIGIN_LEGACY
from local.aws import LocalAws, create_buckets
from migration import media_back

BUCKET = "mumble-test-media"
USER = "64b0c0ffee0000000000beef"


@pytest.fixture
def setup(mongo_server, mongo_db, local_aws: LocalAws, tmp_path: Path) -> dict[str, Any]:
    create_buckets(local_aws)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    args = ["--mongo-uri", mongo_server.uri, "--mongo-db", mongo_db.name, "--endpoint-url", local_aws.endpoint_url,
            "--media-dir", str(uploads), "--media-bucket", BUCKET]
    return {"db": mongo_db, "s3": local_aws.client("s3"), "uploads": uploads, "args": args}


def new_stack_image(setup: dict[str, Any], image_id: str, body: bytes | None, origin: str = ORIGIN_AWS,
                    file_name: str | None = None) -> str:
    """An image the new stack made, as the reverse sync writes it into MongoDB (and its object, when given)."""
    key = f"images/{USER}/{file_name or image_id + '.png'}"
    if body is not None:
        setup["s3"].put_object(Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                               ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
    item = {"imageId": image_id, "createdAt": "2026-11-20T10:00:00.000Z", "userId": USER, "imageKey": key,
            "prompt": "a lighthouse", "sourceVersion": 1763632800000, "origin": origin}
    setup["db"].images.insert_one(legacy_document("images", item))
    return key


def test_new_stack_images_are_copied_once_and_what_cannot_be_is_listed(setup, capsys) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    new_stack_image(setup, "64b0c0ffee00000000000001", png)
    new_stack_image(setup, "64b0c0ffee00000000000002", None)  # its object was deleted from S3
    new_stack_image(setup, "64b0c0ffee00000000000003", b"legacy", origin=ORIGIN_LEGACY)  # the legacy app's own
    setup["db"].images.insert_one({"_id": "evil", "origin": ORIGIN_AWS, "imageKey": f"images/{USER}/x.png",
                                   "imageUrl": "/uploads/images/../../../etc/cron.d/x"})

    assert media_back.main(setup["args"]) == 1
    out = capsys.readouterr().out
    assert "copied 1, already there 0, missing in S3 1, unusable paths 1" in out
    assert "64b0c0ffee00000000000002" in out and "evil" in out
    copied = setup["uploads"] / "images" / "64b0c0ffee00000000000001.png"
    assert copied.read_bytes() == png  # where the document's imageUrl says the legacy app finds it
    assert sorted(p.name for p in setup["uploads"].rglob("*")) == ["64b0c0ffee00000000000001.png", "images"]

    modified = copied.stat().st_mtime_ns
    assert media_back.main(setup["args"]) == 1
    assert "copied 0, already there 1" in capsys.readouterr().out
    assert copied.stat().st_mtime_ns == modified


def test_a_changed_file_is_replaced_and_a_dry_run_writes_nothing(setup, capsys) -> None:
    new_stack_image(setup, "64b0c0ffee00000000000004", b"the new stack's image")
    target = setup["uploads"] / "images" / "64b0c0ffee00000000000004.png"
    target.parent.mkdir()
    target.write_bytes(b"the new stack's imagX")  # same size, different content

    assert media_back.main([*setup["args"], "--dry-run"]) == 0
    assert "would copy 1, already there 0" in capsys.readouterr().out
    assert target.read_bytes() == b"the new stack's imagX"
    assert media_back.main(setup["args"]) == 0
    assert target.read_bytes() == b"the new stack's image"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left behind


def test_bad_flags_name_what_is_wrong(setup, capsys) -> None:
    without_dir = [a for a in setup["args"] if a not in ("--media-dir", str(setup["uploads"]))]
    assert media_back.main(without_dir) == 2
    assert "--media-dir (the legacy uploads directory to copy into) is required" in capsys.readouterr().err
    assert media_back.main([*setup["args"], "--media-bucket", "no-such-bucket"]) == 2
    assert "media bucket no-such-bucket is not reachable" in capsys.readouterr().err
