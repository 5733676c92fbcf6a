"""Flags shared by `migration.run` and `migration.verify`, their environment fallbacks, and the checks that end a
misconfigured run with exit code 2 before anything is written.

Names resolve in this order: an explicit flag; its environment variable; `--stack STAGE` (the deployed stack's
outputs through `pulumi stack output --json`); `--stage STAGE` (the shared specs' naming, `mumble-<stage>-<table>`,
what local mode and the Pulumi program use).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pymongo
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import stack_outputs
from functions.shared.tables import IMAGES, MIGRATION_STATE, USERS, TableSpec, key_schema_problems
from migration.writer import client_config

COLLECTIONS = ("users", "images")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad flag or an unusable target: one line, exit code 2."""


DEFAULT_MEDIA_WORKERS = 32  # S3 takes thousands of PUTs a second per prefix; boto3's transfer manager uses 10

@dataclass(frozen=True)
class Settings:
    mongo_uri: str
    mongo_db: str
    endpoint_url: str | None
    region: str
    tables: dict[str, str]  # users, images, migration-state -> physical name
    media_dir: Path | None
    media_bucket: str | None
    stage: str | None
    collections: tuple[str, ...]
    batch_size: int
    workers: int
    report: Path | None
    media_workers: int = DEFAULT_MEDIA_WORKERS

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            config=client_config(self.workers))

    def media_client(self) -> Any:
        """S3 for the media copy: a connection per media worker, and botocore's standard retries (an upload is
        idempotent: same key, same bytes, same checksum)."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            config=Config(retries={"mode": "standard", "max_attempts": 5},
                                          max_pool_connections=self.media_workers + 4, connect_timeout=5,
                                          read_timeout=60))

    def mongo(self) -> pymongo.MongoClient:
        return pymongo.MongoClient(self.mongo_uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    group = parser.add_argument_group("where from and where to (flags fall back to the environment variables shown)")
    group.add_argument("--mongo-uri", default=env("MONGO_URI"), help="legacy MongoDB URI [MONGO_URI]")
    group.add_argument("--mongo-db", default=env("MONGO_DB", "mumble"), help="legacy database [MONGO_DB, mumble]")
    group.add_argument("--endpoint-url", default=env("AWS_ENDPOINT_URL"),
                       help="AWS endpoint, for a local one [AWS_ENDPOINT_URL]")
    group.add_argument("--region", default=env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1")),
                       help="AWS region [AWS_REGION, us-east-1]")
    group.add_argument("--stage", default=env("MUMBLE_STAGE"),
                       help="name tables by the specs' convention, mumble-<stage>-<table> [MUMBLE_STAGE]")
    group.add_argument("--stack", help="read table and bucket names from `pulumi stack output --json -s STACK`")
    group.add_argument("--users-table", default=env("USERS_TABLE"), help="users table [USERS_TABLE]")
    group.add_argument("--images-table", default=env("IMAGES_TABLE"), help="images table [IMAGES_TABLE]")
    group.add_argument("--state-table", default=env("STATE_TABLE"),
                       help="migration-state table for checkpoints [STATE_TABLE]")
    group.add_argument("--media-dir", type=Path, help="the legacy uploads directory (holds images/ and audio/)")
    group.add_argument("--media-bucket", default=env("MEDIA_BUCKET"), help="S3 bucket for media [MEDIA_BUCKET]")
    group.add_argument("--collections", default=",".join(COLLECTIONS),
                       help="comma-separated subset of users,images (default: both, users first)")
    group.add_argument("--workers", type=int, default=4,
                       help="threads, 1-64 (default: 4): BatchWriteItem writers (run), scan segments (verify), "
                            "documents applied at once per collection (sync; each document's changes stay in "
                            "order)")
    group.add_argument("--report", type=Path, help="write the JSON report here")


def stack_outputs_of(stack: str) -> dict[str, Any]:
    """`pulumi stack output --json` of a stack (the names other tools read, functions/shared/stack_outputs.py)."""
    if shutil.which("pulumi") is None:
        raise UsageError("--stack needs the Pulumi CLI on PATH; or pass --users-table/--images-table/"
                         "--state-table/--media-bucket")
    result = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise UsageError(f"pulumi stack output for {stack!r} failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout)


def resolve(args: argparse.Namespace, batch_size: int = 25) -> Settings:
    """Turn parsed flags into Settings; raise UsageError naming the flag that is wrong or missing."""
    if not args.mongo_uri:
        raise UsageError("--mongo-uri (or MONGO_URI) is required")
    collections = tuple(c.strip() for c in args.collections.split(",") if c.strip())
    unknown = [c for c in collections if c not in COLLECTIONS]
    if unknown or not collections:
        raise UsageError(f"--collections: unknown {', '.join(unknown) or '(empty)'}; choose from users,images")
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be from 1 to 64 (got {args.workers})")
    media_workers = getattr(args, "media_workers", DEFAULT_MEDIA_WORKERS)  # a flag of migration.run only
    if not 1 <= media_workers <= 256:
        raise UsageError(f"--media-workers must be from 1 to 256 (got {media_workers})")
    if not 1 <= batch_size <= 25:
        raise UsageError(f"--batch-size must be from 1 to 25, BatchWriteItem's limit (got {batch_size})")
    if args.media_dir is not None and not args.media_dir.is_dir():
        raise UsageError(f"--media-dir {args.media_dir} is not a directory")

    outputs = stack_outputs_of(args.stack) if args.stack else {}
    stage = args.stack or args.stage

    def name(flag_value: str | None, output_key: str, spec: TableSpec | None) -> str | None:
        if flag_value:
            return flag_value
        if output_key in outputs:
            return str(outputs[output_key])
        return spec.physical_name(stage) if spec is not None and stage else None

    tables = {
        "users": name(args.users_table, stack_outputs.USERS_TABLE, USERS),
        "images": name(args.images_table, stack_outputs.IMAGES_TABLE, IMAGES),
        "migration-state": name(args.state_table, stack_outputs.MIGRATION_STATE_TABLE, MIGRATION_STATE),
    }
    return Settings(
        mongo_uri=args.mongo_uri, mongo_db=args.mongo_db, endpoint_url=args.endpoint_url,
        region=str(outputs.get(stack_outputs.REGION, args.region)),
        tables={k: v for k, v in tables.items() if v},
        media_dir=args.media_dir,
        media_bucket=name(args.media_bucket, stack_outputs.MEDIA_BUCKET, None),
        stage=stage, collections=collections, batch_size=batch_size, workers=args.workers, report=args.report,
        media_workers=media_workers,
    )


def check_mongo(settings: Settings) -> pymongo.MongoClient:
    client = settings.mongo()
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as error:
        client.close()
        raise UsageError(f"cannot reach MongoDB at {settings.mongo_uri}: {str(error).split(',')[0]}") from None
    return client


def check_targets(settings: Settings, logical_tables: list[str], need_bucket: bool) -> None:
    """Every table exists with its spec's key schema (describe_table), and the media bucket exists."""
    specs = {"users": USERS, "images": IMAGES, "migration-state": MIGRATION_STATE}
    dynamodb = settings.client("dynamodb")
    for logical in logical_tables:
        table = settings.tables.get(logical)
        if not table:
            flag = "--state-table" if logical == "migration-state" else f"--{logical}-table"
            raise UsageError(f"{flag} is required (or --stage/--stack to name tables by convention)")
        try:
            described = dynamodb.describe_table(TableName=table)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            raise UsageError(f"table {table} does not exist; deploy the stack (pulumi up) or check the name") from None
        except (ClientError, BotoCoreError) as error:
            raise UsageError(f"cannot describe table {table}: {error}") from None
        problems = key_schema_problems(specs[logical], described)
        if problems:
            raise UsageError(f"table {table} has the wrong key schema: {'; '.join(problems)}")
    if need_bucket:
        if not settings.media_bucket:
            raise UsageError("--media-dir needs --media-bucket (or MEDIA_BUCKET, or --stack) to copy media to")
        try:
            settings.client("s3").head_bucket(Bucket=settings.media_bucket)
        except (ClientError, BotoCoreError) as error:
            raise UsageError(f"media bucket {settings.media_bucket} is not reachable: {error}") from None


def confirm_prod(settings: Settings, assume_yes: bool) -> None:
    """Writing into prod takes a typed confirmation on a terminal, or --yes."""
    is_prod = settings.stage == "prod" or any("-prod-" in name for name in settings.tables.values())
    if not is_prod or assume_yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("refusing to write to the prod stage without --yes (no terminal to confirm on)")
    answer = input("This writes into the PROD tables. Type 'prod' to continue: ")
    if answer.strip() != "prod":
        raise UsageError("not confirmed; nothing was written")
