"""`make demo`: the main job on embedded defaults, on this machine only.

Starts the legacy database (SecantusDB) and the AWS endpoint (moto server), seeds the sample legacy data with its
drift and media files, creates the new stack's tables and buckets from the shared specs, and prints what the legacy
side holds and what the new side looks like. The migration issue extends this into dry-run -> run -> verify.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import pymongo
from bson import json_util

from local.aws import LocalAws, create_buckets, create_tables
from local.sample_data import SampleSpec, format_summary, seed
from local.services import MotoServer, SecantusDB, ServiceError


def _terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the `with` blocks stop the child servers on the way out."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _show(doc: dict[str, Any], limit: int = 900) -> str:
    text = json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + " ..."


def run(spec: SampleSpec, media_dir: Path) -> None:
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
        print("\nnext: `python -m migration.run --dry-run` streams this data into those tables (migration issue).")
    print("services stopped.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="sample users (default: 100)")
    parser.add_argument("--images", type=int, default=1000, help="sample images (default: 1000)")
    parser.add_argument("--seed", type=int, default=42, help="sample data seed (default: 42)")
    parser.add_argument("--media-dir", type=Path, help="where to write legacy uploads (default: a temp directory)")
    args = parser.parse_args(argv)
    try:
        spec = SampleSpec(users=args.users, images=args.images, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    _terminate_on_sigterm()
    try:
        if args.media_dir:
            run(spec, args.media_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="mumble-uploads-") as media_dir:
                run(spec, Path(media_dir))
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; services stopped.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
