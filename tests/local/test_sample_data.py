"""The sample legacy database is deterministic and really has the drift the migration must survive."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import subprocess
import sys
from collections import Counter
from typing import Any, Iterator

import bcrypt
import bson
import pytest
from bson import Binary, Decimal128, Int64, ObjectId
from PIL import Image

from local.sample_data import (
    IMAGE_ANOMALIES,
    KNOWN_PASSWORD_USERS,
    USER_ANOMALIES,
    SampleSpec,
    generate_images,
    generate_users,
    media_files,
    sample_password,
    seed,
)

from tests.conftest import ROOT

SPEC = SampleSpec(users=150, images=1200, seed=7)


def digest(docs: Iterator[dict[str, Any]]) -> str:
    hasher = hashlib.sha256()
    for doc in docs:
        hasher.update(bson.encode(doc))
    return hasher.hexdigest()


def walk(value: Any, depth: int = 0) -> Iterator[tuple[Any, int]]:
    """Every value in a document with its nesting depth."""
    yield value, depth
    if isinstance(value, dict):
        for child in value.values():
            yield from walk(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child, depth + 1)


def kinds_present(docs: list[dict[str, Any]]) -> set[str]:
    """Classify what the documents really contain (not what the generator claims)."""
    found: set[str] = set()
    for doc in docs:
        if len(bson.encode(doc)) > 400 * 1024:
            found.add("over_400KB")
        for value, depth in walk(doc):
            if depth > 32:
                found.add("deeper_than_32")
            if value is None:
                found.add("null")
            elif value == "":
                found.add("empty_string")
            elif isinstance(value, float) and math.isnan(value):
                found.add("nan")
            elif isinstance(value, float) and math.isinf(value):
                found.add("infinity")
            elif isinstance(value, float):
                found.add("double")
            elif isinstance(value, Int64) and abs(value) > 2**53:
                found.add("int_beyond_2^53")
            elif isinstance(value, Decimal128):
                found.add("decimal128_out_of_range" if abs(value.to_decimal().adjusted()) > 125 else "decimal128")
            elif isinstance(value, Binary):
                found.add("uuid" if value.subtype == 4 else "binary")
            elif isinstance(value, dt.datetime):
                found.add("date")
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                found.add("array_of_objects")
        for name in ("createdAt", "updatedAt"):
            if isinstance(doc.get(name), str):
                found.add("naive_date_string")
            elif isinstance(doc.get(name), Int64):
                found.add("epoch_millis_date")
        if "__v" in doc:
            found.add("mongoose_version_key")
        if isinstance(doc.get("email"), str) and doc["email"] != doc["email"].strip().lower():
            found.add("email_not_normalised")
        if "email" in doc and not doc["email"] and "_id" in doc:
            found.add("empty_email")
        if isinstance(doc.get("userId"), str):
            found.add("userId_as_string")
    return found


def test_the_same_spec_gives_the_same_documents_and_another_seed_does_not() -> None:
    assert digest(generate_users(SPEC)) == digest(generate_users(SPEC))
    assert digest(generate_images(SPEC)) == digest(generate_images(SPEC))
    other = SampleSpec(users=SPEC.users, images=SPEC.images, seed=8)
    assert digest(generate_images(SPEC)) != digest(generate_images(other))


def test_ids_are_unique_and_increase_like_the_legacy_apps() -> None:
    for docs in (list(generate_users(SPEC)), list(generate_images(SPEC))):
        ids = [doc["_id"] for doc in docs]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert all(isinstance(oid, ObjectId) for oid in ids)


def test_the_documents_really_carry_every_kind_of_drift() -> None:
    users, images = list(generate_users(SPEC)), list(generate_images(SPEC))
    expected_everywhere = {"over_400KB", "deeper_than_32", "null", "empty_string", "nan", "infinity", "double",
                           "int_beyond_2^53", "decimal128", "decimal128_out_of_range", "date", "naive_date_string",
                           "epoch_millis_date", "mongoose_version_key"}
    assert expected_everywhere <= kinds_present(users)
    assert expected_everywhere - {"decimal128"} | {"array_of_objects", "userId_as_string"} <= kinds_present(images)
    assert {"binary", "uuid", "email_not_normalised", "empty_email"} <= kinds_present(users)
    assert any("email" not in doc for doc in users) and any("userId" not in doc for doc in images)
    user_ids = {doc["_id"] for doc in users}
    assert any(isinstance(doc.get("userId"), ObjectId) and doc["userId"] not in user_ids for doc in images)
    assert any("displayName" not in doc for doc in users) and any("weather" not in doc for doc in images)


def test_each_rare_case_appears_exactly_once_and_is_counted() -> None:
    drift: dict[str, Counter] = {"users": Counter(), "images": Counter()}
    list(generate_users(SPEC, drift["users"]))
    list(generate_images(SPEC, drift["images"]))
    assert all(drift["users"][kind] == 1 for kind in USER_ANOMALIES)
    assert all(drift["images"][kind] == 1 for kind in IMAGE_ANOMALIES)


def test_known_users_have_a_real_legacy_bcrypt_hash() -> None:
    users = list(generate_users(SampleSpec(users=KNOWN_PASSWORD_USERS + 1, images=0)))
    first = users[0]["passwordHash"].encode()
    assert first.startswith(b"$2a$") and bcrypt.checkpw(sample_password(0).encode(), first)
    assert not bcrypt.checkpw(b"wrong", first)
    unknown = users[KNOWN_PASSWORD_USERS]["passwordHash"]
    assert unknown.startswith("$2a$10$") and len(unknown) == 60


def test_seeding_round_trips_every_document_byte_for_byte(mongo_db, tmp_path) -> None:
    summary = seed(mongo_db, SPEC, tmp_path)
    assert summary.counts == Counter(users=SPEC.users, images=SPEC.images)
    assert mongo_db.users.count_documents({}) == SPEC.users
    stored = {doc["_id"]: doc for doc in mongo_db.images.find().sort("_id", 1)}
    for doc in generate_images(SPEC):
        assert bson.encode(stored[doc["_id"]]) == bson.encode(doc)


def test_media_files_match_the_documents_and_a_few_are_missing(mongo_db, tmp_path) -> None:
    summary = seed(mongo_db, SPEC, tmp_path)
    referenced = present = 0
    for doc in mongo_db.images.find({"imageUrl": {"$regex": "^/uploads/images/"}}):
        referenced += 1
        path = tmp_path / doc["imageUrl"].removeprefix("/uploads/")
        if path.exists():
            present += 1
            assert Image.open(io.BytesIO(path.read_bytes())).format == "PNG"
    assert 0 < present < referenced  # deleted files are part of the drift
    audio = list((tmp_path / "audio").iterdir())
    assert audio and all(p.read_bytes().startswith(b"\x1a\x45\xdf\xa3") for p in audio)
    assert summary.media_files["images"] == present and summary.media_files["audio"] == len(audio)
    first = next(d for d in generate_images(SPEC) if str(d.get("imageUrl", "")).startswith("/uploads/"))
    assert list(media_files(first)) == list(media_files(first))  # same bytes every time


def test_the_cli_refuses_bad_sizes_and_existing_data(mongo_server, mongo_db) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "local.sample_data", "--mongo-uri", mongo_server.uri,
                               "--mongo-db", mongo_db.name, *args], cwd=ROOT, capture_output=True, text=True)

    bad = cli("--users", "0")
    assert bad.returncode == 2 and "users must be at least 1 (got 0)" in bad.stderr
    assert cli("--users", "3", "--images", "5").returncode == 0
    again = cli("--users", "3", "--images", "5")
    assert again.returncode == 2 and "pass --drop to replace them" in again.stderr
    assert cli("--users", "4", "--images", "2", "--drop").returncode == 0
    assert mongo_db.users.count_documents({}) == 4


@pytest.mark.parametrize("users, images", [(0, 1), (1, -1)])
def test_the_spec_rejects_impossible_sizes(users: int, images: int) -> None:
    with pytest.raises(ValueError):
        SampleSpec(users=users, images=images)
