"""Every DynamoDB table of the shared specs: on-demand, encrypted, PITR and deletion protection per stage; the
bulk-loaded ones (users, images) pre-warmed per stage for the full load (`mumble:warmWriteUnitsPerSecond`).

Streams and TTL come from the spec (users/images stream new and old images for reverse sync). Tables are
stateful: with `protectResources` (prod) Pulumi refuses to delete them and retains them if removed from code.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from functions.shared.tables import TABLES, TableSpec


def table_args(spec: TableSpec, config: StageConfig) -> dict:
    """The `aws.dynamodb.Table` arguments for one spec in one stage."""
    keys = {key.name: key.type for key in spec.keys}
    args: dict = {
        "name": spec.physical_name(config.stage),
        "billing_mode": "PAY_PER_REQUEST",
        "hash_key": spec.hash_key.name,
        "range_key": spec.range_key.name if spec.range_key else None,
        "attributes": [{"name": name, "type": type_} for name, type_ in {**keys, **spec.index_key_types}.items()],
        "global_secondary_indexes": [
            {"name": index.name, "hash_key": index.hash_key.name,
             "range_key": index.range_key.name if index.range_key else None,
             "projection_type": index.projection}
            for index in spec.indexes
        ],
        "server_side_encryption": {"enabled": True},  # KMS (AWS managed key) instead of the default owned key
        "point_in_time_recovery": {"enabled": config.pointInTimeRecovery},
        "deletion_protection_enabled": config.deletionProtection,
        "tags": {"mumble:stage": config.stage, "mumble:table": spec.logical_name},
    }
    warm = {name: units for name, units in (("write_units_per_second", config.warmWriteUnitsPerSecond),
                                            ("read_units_per_second", config.warmReadUnitsPerSecond)) if units}
    if spec.bulk_loaded and warm:  # the indexes too: a cold index throttles the table's writes (back-pressure)
        args["warm_throughput"] = warm
        for index in args["global_secondary_indexes"]:
            index["warm_throughput"] = warm
    if spec.stream:
        args.update(stream_enabled=True, stream_view_type=spec.stream)
    if spec.ttl_attribute:
        args["ttl"] = {"attribute_name": spec.ttl_attribute, "enabled": True}
    return args


class DataTables(pulumi.ComponentResource):
    """`tables[logical_name]` is the table resource; `names` and `arns` map logical names to outputs."""

    def __init__(self, name: str, config: StageConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:data:DataTables", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=config.protectResources,
                                          retain_on_delete=config.protectResources)
        self.tables = {logical: aws.dynamodb.Table(f"{name}-{logical}", **table_args(spec, config), opts=stateful)
                       for logical, spec in TABLES.items()}
        self.names = {logical: table.name for logical, table in self.tables.items()}
        self.arns = {logical: table.arn for logical, table in self.tables.items()}
        self.stream_arns = {logical: table.stream_arn for logical, table in self.tables.items()
                            if TABLES[logical].stream}
        self.register_outputs({"names": self.names})
