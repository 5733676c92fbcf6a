"""The sample legacy database of each test module (its `SPEC`), seeded with media, the new tables and bucket, and
the flags that connect the migration commands to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws import LocalAws, create_buckets, create_tables
from local.sample_data import seed
from migration.state import StateStore


@pytest.fixture
def legacy(request: pytest.FixtureRequest, mongo_server, mongo_db, local_aws: LocalAws, tmp_path: Path) -> dict:
    uploads = tmp_path / "uploads"
    seed(mongo_db, request.module.SPEC, uploads)
    create_tables(local_aws)
    create_buckets(local_aws)
    args = ["--mongo-uri", mongo_server.uri, "--mongo-db", mongo_db.name, "--endpoint-url", local_aws.endpoint_url,
            "--stage", "test", "--media-dir", str(uploads), "--media-bucket", "mumble-test-media",
            "--dead-letter", str(tmp_path / "dead.jsonl")]
    dynamodb = local_aws.client("dynamodb")
    return {"args": args, "db": mongo_db, "aws": local_aws, "tmp": tmp_path, "uploads": uploads,
            "dynamodb": dynamodb, "state": StateStore(dynamodb, "mumble-test-migration-state")}
