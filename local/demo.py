"""`make demo`: the main job on embedded defaults, on this machine only.

Starts the legacy database (SecantusDB) and the AWS endpoint (moto server), seeds the sample legacy data with its
drift and media files, creates the new stack's tables and bucket from the shared specs, then migrates it the way an
operator would: `migration.run --dry-run`, the real run (which verifies at the end), and prints the summary and
the report path. Then, as while both stacks are live, a user changes their profile and deletes an image in MongoDB
and `migration.sync --once` carries both changes over from the position the full load recorded.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import datetime as dt

import pymongo
from bson import json_util

from local.aws import LocalAws, create_buckets, create_tables
from local.sample_data import SampleSpec, format_summary, seed
from local.services import MotoServer, SecantusDB, ServiceError
from migration import run as migration_run
from migration import sync as migration_sync


def _terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the `with` blocks stop the child servers on the way out."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _show(doc: dict[str, Any], limit: int = 900) -> str:
    text = json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + " ..."


def run(spec: SampleSpec, media_dir: Path, report_dir: Path) -> int:
    print("starting SecantusDB (legacy MongoDB) and moto server (AWS) on loopback ...", flush=True)
    with SecantusDB() as mongo, MotoServer() as moto:
        print(f"  legacy MongoDB  {mongo.uri}")
        print(f"  AWS endpoint    {moto.endpoint_url}\n")

        client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
        database = client["mumble"]
        print(f"seeding the sample legacy database (seed {spec.seed}) and uploads in {media_dir} ...", flush=True)
        summary = seed(database, spec, media_dir)
        print(format_summary(summary))
        print("\nexample legacy user:  ", _show(database.users.find_one({"preferences": {"$exists": True}}) or {}))
        print("example legacy image: ", _show(database.images.find_one({"weather": {"$exists": True}}) or {}))
        client.close()

        aws = LocalAws(moto.endpoint_url, stage="local")
        tables = create_tables(aws)
        buckets = create_buckets(aws)
        dynamodb = aws.client("dynamodb")
        print("\nnew stack (from the shared specs):")
        for name in tables.values():
            described = dynamodb.describe_table(TableName=name)["Table"]
            keys = " + ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in described["KeySchema"])
            indexes = ", ".join(i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])) or "none"
            stream = described.get("StreamSpecification", {}).get("StreamViewType", "off")
            print(f"  table  {name:<22} keys {keys}; indexes {indexes}; stream {stream}")
        for name in buckets.values():
            print(f"  bucket {name}")

        os.environ.update(aws.environment())
        report_dir.mkdir(parents=True, exist_ok=True)
        flags = ["--mongo-uri", mongo.uri, "--mongo-db", "mumble", "--stage", aws.stage, "--media-dir",
                 str(media_dir), "--media-bucket", buckets["media"], "--dead-letter",
                 str(report_dir / "dead-letters.jsonl")]
        print("\n$ python -m migration.run --dry-run ...", flush=True)
        migration_run.main([*flags, "--dry-run", "--report", str(report_dir / "dry-run.json")])
        print("\n$ python -m migration.run ...   (then verifies)", flush=True)
        code = migration_run.main([*flags, "--restart", "--report", str(report_dir / "run.json")])
        print(f"\nmigration exit code {code} (1 = some documents were dead-lettered: see the file above; "
              "the sample holds documents no DynamoDB item can hold)")
        sync_code = live_changes(mongo.uri, aws, tables, flags)
    print("services stopped.")
    return code or sync_code


def live_changes(mongo_uri: str, aws: LocalAws, tables: dict[str, str], flags: list[str]) -> int:
    """Both stacks live: changes made in MongoDB after the full load reach DynamoDB through `migration.sync`."""
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri)
    database = client["mumble"]
    now = dt.datetime.now(dt.timezone.utc)
    user = database.users.find_one({"displayName": {"$nin": ["", None]}}, sort=[("_id", 1)])
    image = database.images.find_one({}, sort=[("_id", -1)])
    print("\nboth stacks live: in MongoDB, a user renames themselves and an image is deleted ...")
    if user is not None:
        database.users.update_one({"_id": user["_id"]}, {"$set": {"displayName": "Renamed On Legacy",
                                                                  "updatedAt": now}})
    if image is not None:
        database.images.delete_one({"_id": image["_id"]})
    client.close()
    print("$ python -m migration.sync --once ...", flush=True)
    code = migration_sync.main([*flags, "--once"])
    dynamodb = aws.client("dynamodb")
    if user is not None:
        item = dynamodb.get_item(TableName=tables["users"], Key={"userId": {"S": str(user["_id"])}},
                                 ConsistentRead=True).get("Item", {})
        print(f"  users item {user['_id']}: displayName {item.get('displayName', {}).get('S')!r}")
    if image is not None:
        left = dynamodb.query(TableName=tables["images"], Select="COUNT",
                              KeyConditionExpression="imageId = :id",
                              ExpressionAttributeValues={":id": {"S": str(image["_id"])}})["Count"]
        print(f"  images items for {image['_id']}: {left}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="sample users (default: 100)")
    parser.add_argument("--images", type=int, default=1000, help="sample images (default: 1000)")
    parser.add_argument("--seed", type=int, default=42, help="sample data seed (default: 42)")
    parser.add_argument("--media-dir", type=Path, help="where to write legacy uploads (default: a temp directory)")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"),
                        help="where the migration reports and dead letters go (default: reports/)")
    args = parser.parse_args(argv)
    try:
        spec = SampleSpec(users=args.users, images=args.images, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    _terminate_on_sigterm()
    try:
        if args.media_dir:
            run(spec, args.media_dir, args.report_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="mumble-uploads-") as media_dir:
                run(spec, Path(media_dir), args.report_dir)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; services stopped.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
