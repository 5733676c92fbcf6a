"""DynamoDB table specs: the one description of every table that infra, runtime, local mode and migration read.

Pure data plus pure helpers (no boto3, no pulumi), so the Lambda package, the Pulumi program and the migration
toolkit can all import it without dragging each other's dependencies in.

Physical names are per stage (`mumble-<stage>-<table>`) so several stages can share one account and one local
endpoint; in AWS the Pulumi program passes its names to functions through environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

AttributeType = Literal["S", "N", "B"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]


@dataclass(frozen=True)
class Key:
    """One key attribute: its name and DynamoDB scalar type."""

    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index; projection ALL because every reader wants whole items."""

    name: str
    hash_key: Key
    range_key: Key | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"

    @property
    def keys(self) -> tuple[Key, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)


@dataclass(frozen=True)
class TableSpec:
    """A table: keys, indexes, TTL attribute and stream setting. `logical_name` is stage independent."""

    logical_name: str
    hash_key: Key
    range_key: Key | None = None
    indexes: tuple[GlobalIndex, ...] = ()
    ttl_attribute: str | None = None
    stream: StreamView | None = None
    description: str = ""
    bulk_loaded: bool = False  # the full load writes it at full speed: pre-warmed per stage (mumble:warm*)

    @property
    def keys(self) -> tuple[Key, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def index_key_types(self) -> dict[str, AttributeType]:
        """Every attribute that is a key of the table or of an index, with its type.

        DynamoDB rejects items whose value for such an attribute is NULL, empty, or of another type, so writers
        (API functions, migration, sync) validate exactly these attributes before writing.
        """
        types: dict[str, AttributeType] = {}
        for key in self.keys + tuple(k for index in self.indexes for k in index.keys):
            types.setdefault(key.name, key.type)
        return types

    def physical_name(self, stage: str) -> str:
        return f"mumble-{stage}-{self.logical_name}"

    def index(self, name: str) -> GlobalIndex:
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(f"table {self.logical_name!r} has no index {name!r}")


USERS = TableSpec(
    logical_name="users",
    hash_key=Key("userId"),  # the legacy ObjectId hex, so references from images survive the move
    indexes=(GlobalIndex("EmailIndex", Key("email")),),  # sign-in and Cognito user migration look users up by email
    stream="NEW_AND_OLD_IMAGES",  # reverse sync back to MongoDB while rollback must stay possible
    description="Mumble users (migrated from MongoDB `users`).",
    bulk_loaded=True,
)

IMAGES = TableSpec(
    logical_name="images",
    hash_key=Key("imageId"),
    range_key=Key("createdAt"),
    indexes=(GlobalIndex("UserIndex", Key("userId"), Key("createdAt")),),  # a user's gallery, newest first
    stream="NEW_AND_OLD_IMAGES",
    description="Generated images (migrated from MongoDB `images`).",
    bulk_loaded=True,
)

MIGRATION_STATE = TableSpec(
    logical_name="migration-state",
    hash_key=Key("stateId"),  # `load#<collection>`, `verify#<collection>`, `sync#<collection>`, `tombstone#...`
    ttl_attribute="expiresAt",  # only tombstones expire (functions/shared/tombstones.py); checkpoints have none
    description="Checkpoints, counts and change-stream positions of the migration and the sync; delete tombstones.",
)

JOBS = TableSpec(
    logical_name="jobs",
    hash_key=Key("jobId"),  # an image-generation job: pending -> running -> succeeded | failed
    ttl_attribute="expiresAt",  # finished jobs are only a polling fallback; they expire after a week
    description="Image-generation jobs, polled through GET /jobs/{jobId}.",
)

CONNECTIONS = TableSpec(
    logical_name="connections",
    hash_key=Key("connectionId"),
    indexes=(GlobalIndex("UserIndex", Key("userId")),),  # push a job's result to every socket of its user
    ttl_attribute="expiresAt",  # API Gateway drops a socket after 2 h at most; stale ids expire by themselves
    description="Open WebSocket connections per user.",
)

WEATHER_CACHE = TableSpec(
    logical_name="weather-cache",
    hash_key=Key("cacheKey"),  # rounded coordinates: the seed plan's Redis cache, without a VPC
    ttl_attribute="expiresAt",
    description="OpenWeather answers cached by rounded coordinates.",
)

IDEMPOTENCY = TableSpec(
    logical_name="idempotency",
    hash_key=Key("id"),  # the layout Powertools' DynamoDBPersistenceLayer expects
    ttl_attribute="expiration",
    description="Powertools idempotency records (Idempotency-Key of POST /generate).",
)

TABLES: Mapping[str, TableSpec] = {
    spec.logical_name: spec
    for spec in (USERS, IMAGES, MIGRATION_STATE, JOBS, CONNECTIONS, WEATHER_CACHE, IDEMPOTENCY)
}


def create_table_kwargs(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """The boto3 `create_table` arguments for `spec`: on-demand, with its indexes and stream.

    TTL is not part of `create_table`; see `ttl_kwargs`.
    """
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key_schema(spec.keys),
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": type_} for name, type_ in spec.index_key_types.items()
        ],
    }
    if spec.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.keys),
                "Projection": {"ProjectionType": index.projection},
            }
            for index in spec.indexes
        ]
    if spec.stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    return kwargs


def ttl_kwargs(spec: TableSpec, table_name: str) -> dict[str, Any] | None:
    """The boto3 `update_time_to_live` arguments, or None when the table has no TTL."""
    if spec.ttl_attribute is None:
        return None
    return {
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": spec.ttl_attribute},
    }


def key_schema_problems(spec: TableSpec, described: Mapping[str, Any]) -> list[str]:
    """Differences between `spec` and a `describe_table()['Table']` answer, as readable lines (empty = matches).

    Writers check this before their first write, so a wrong table fails fast instead of half-writing.
    """
    problems: list[str] = []
    name = described.get("TableName", spec.logical_name)
    types = {a["AttributeName"]: a["AttributeType"] for a in described.get("AttributeDefinitions", [])}

    def compare(where: str, expected: tuple[Key, ...], schema: list[Mapping[str, str]]) -> None:
        actual = [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"])) for k in schema]
        wanted = [(k.name, role, k.type) for k, role in zip(expected, ("HASH", "RANGE"))]
        if actual != wanted:
            problems.append(f"{where} key schema is {_describe(actual)}, expected {_describe(wanted)}")

    compare(f"table {name}", spec.keys, list(described.get("KeySchema", [])))
    present = {i["IndexName"]: i for i in described.get("GlobalSecondaryIndexes", [])}
    for index in spec.indexes:
        if index.name not in present:
            problems.append(f"table {name} has no global secondary index {index.name}")
        else:
            compare(f"index {name}.{index.name}", index.keys, list(present[index.name]["KeySchema"]))
    return problems


def _key_schema(keys: tuple[Key, ...]) -> list[dict[str, str]]:
    return [{"AttributeName": key.name, "KeyType": role} for key, role in zip(keys, ("HASH", "RANGE"))]


def _describe(keys: list[tuple[str, str, str | None]]) -> str:
    return ", ".join(f"{name} {role} ({type_ or '?'})" for name, role, type_ in keys) or "empty"
