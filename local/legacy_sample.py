"""Legacy users in the local app: the sample legacy database (local/sample_data.py) seeded into a SecantusDB and
migrated into the local stack by `python -m migration.run`, exactly as an operator migrates the real one, so that a
legacy user signs in to the local site with their old password (the user-migration trigger runs through
local/cognito_front.py) and finds their migrated gallery. Used by `make dev` and the browser tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo

from local.aws import LocalAws
from local.sample_data import KNOWN_PASSWORD_USERS, SampleSpec, sample_password, seed, user_id
from local.services import SecantusDB


@dataclass(frozen=True)
class LegacyUser:
    email: str
    password: str
    user_id: str
    images: int


class LegacySampleError(RuntimeError):
    pass


def migrate_sample(aws: LocalAws, media_bucket: str, spec: SampleSpec = SampleSpec(users=40, images=480),
                   work_dir: Path | None = None) -> LegacyUser:
    """Seed, migrate (load + verify), and name a legacy user with a known password and images."""
    work = Path(work_dir or tempfile.mkdtemp(prefix="mumble-legacy-"))
    media_dir = work / "uploads"
    with SecantusDB() as mongo:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo.uri)
        try:
            seed(client["mumble"], spec, media_dir)
            done = subprocess.run(
                [sys.executable, "-m", "migration.run", "--mongo-uri", mongo.uri, "--mongo-db", "mumble",
                 "--stage", aws.stage, "--media-dir", str(media_dir), "--media-bucket", media_bucket, "--restart",
                 "--report", str(work / "run.json"), "--dead-letter", str(work / "dead-letters.jsonl")],
                env={**os.environ, **aws.environment()}, capture_output=True, text=True,
                cwd=Path(__file__).resolve().parent.parent)
            if done.returncode not in (0, 1):  # 1: the sample's deliberately impossible documents dead-lettered
                raise LegacySampleError(f"migration.run exited {done.returncode}:\n{done.stdout[-3000:]}"
                                        f"{done.stderr[-3000:]}")
            return _pick_user(client["mumble"], spec)
        finally:
            client.close()


def _pick_user(database: Any, spec: SampleSpec) -> LegacyUser:
    """The first user with a known password, a usable email and the most images."""
    best: LegacyUser | None = None
    for index in range(min(spec.users, KNOWN_PASSWORD_USERS)):
        uid = user_id(spec, index)
        doc = database.users.find_one({"_id": uid})
        email = (doc or {}).get("email")
        if not isinstance(email, str) or "@" not in email:
            continue
        images = database.images.count_documents({"userId": {"$in": [uid, str(uid)]}})
        if best is None or images > best.images:
            best = LegacyUser(email.strip().lower(), sample_password(index), str(uid), images)
    if best is None:
        raise LegacySampleError("the sample holds no legacy user with a known password and an email")
    return best
