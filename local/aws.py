"""Provision the stack's tables and buckets in a local AWS endpoint (moto server) from the shared specs.

The same specs the Pulumi program deploys, so local mode, tests and the migration see the tables AWS will have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import boto3
from botocore.config import Config

from functions.shared.storage import BUCKETS, BucketSpec
from functions.shared.tables import TABLES, TableSpec, create_table_kwargs, key_schema_problems, ttl_kwargs

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # moto accepts any


@dataclass(frozen=True)
class LocalAws:
    """Where the local AWS endpoint is, and which stage's names to use in it."""

    endpoint_url: str
    region: str = "us-east-1"
    stage: str = "local"

    def client(self, service: str, config: Config | None = None) -> Any:
        base = Config(retries={"mode": "standard"})
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=base.merge(config) if config else base,
            **LOCAL_CREDENTIALS,
        )

    def environment(self) -> dict[str, str]:
        """Environment variables that point any boto3/botocore process at this endpoint (botocore honours them)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        }

    def table_name(self, logical_name: str) -> str:
        return TABLES[logical_name].physical_name(self.stage)

    def bucket_name(self, logical_name: str) -> str:
        return BUCKETS[logical_name].physical_name(self.stage)


def create_tables(aws: LocalAws, specs: Iterable[TableSpec] = TABLES.values()) -> dict[str, str]:
    """Create every table (idempotent: an existing table must match its spec). Returns logical -> physical name."""
    dynamodb = aws.client("dynamodb")
    names: dict[str, str] = {}
    for spec in specs:
        name = spec.physical_name(aws.stage)
        try:
            dynamodb.create_table(**create_table_kwargs(spec, name))
        except dynamodb.exceptions.ResourceInUseException:
            problems = key_schema_problems(spec, dynamodb.describe_table(TableName=name)["Table"])
            if problems:
                raise RuntimeError(f"existing table {name} does not match its spec: {'; '.join(problems)}") from None
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        ttl = ttl_kwargs(spec, name)
        if ttl:
            dynamodb.update_time_to_live(**ttl)
        names[spec.logical_name] = name
    return names


def create_buckets(aws: LocalAws, specs: Iterable[BucketSpec] = BUCKETS.values()) -> dict[str, str]:
    """Create every bucket private and encrypted, versioned where the spec says. Returns logical -> physical."""
    s3 = aws.client("s3")
    names: dict[str, str] = {}
    for spec in specs:
        name = spec.physical_name(aws.stage)
        try:
            s3.create_bucket(Bucket=name)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if spec.versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        names[spec.logical_name] = name
    return names
