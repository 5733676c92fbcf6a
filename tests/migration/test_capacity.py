"""What a target table takes at once, read from DescribeTable on the local AWS endpoint, and the load estimate."""

from __future__ import annotations

from local.aws import LocalAws
from functions.shared.tables import IMAGES, create_table_kwargs
from migration.capacity import duration, load_estimate, table_capacity, write_units_per_item
from migration.images import ImagesMapper


def _create(aws: LocalAws, name: str, **extra) -> None:
    kwargs = create_table_kwargs(IMAGES, name)
    for key, value in extra.items():
        if key == "IndexWarmThroughput":
            for index in kwargs["GlobalSecondaryIndexes"]:
                index["WarmThroughput"] = value
        else:
            kwargs[key] = value
    aws.client("dynamodb").create_table(**kwargs)


def test_a_pre_warmed_table_takes_its_warm_rate_unless_an_index_is_colder(local_aws: LocalAws) -> None:
    dynamodb = local_aws.client("dynamodb")
    _create(local_aws, "warm", WarmThroughput={"WriteUnitsPerSecond": 20_000, "ReadUnitsPerSecond": 12_000},
            IndexWarmThroughput={"WriteUnitsPerSecond": 20_000, "ReadUnitsPerSecond": 12_000})
    warm = table_capacity(dynamodb, "warm")
    assert (warm.mode, warm.writes_per_second, warm.limited_by) == ("on-demand", 20_000, "table warm throughput")
    _create(local_aws, "cold-index", WarmThroughput={"WriteUnitsPerSecond": 20_000, "ReadUnitsPerSecond": 12_000})
    cold = table_capacity(dynamodb, "cold-index")
    assert cold.writes_per_second == 4_000 and cold.limited_by.startswith("index UserIndex")


def test_provisioned_tables_and_missing_ones(local_aws: LocalAws) -> None:
    dynamodb = local_aws.client("dynamodb")
    kwargs = create_table_kwargs(IMAGES, "provisioned")
    kwargs["BillingMode"] = "PROVISIONED"
    kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 50, "WriteCapacityUnits": 300}
    for index in kwargs["GlobalSecondaryIndexes"]:
        index["ProvisionedThroughput"] = {"ReadCapacityUnits": 50, "WriteCapacityUnits": 100}
    dynamodb.create_table(**kwargs)
    provisioned = table_capacity(dynamodb, "provisioned")
    assert (provisioned.mode, provisioned.writes_per_second) == ("provisioned", 100)
    assert provisioned.limited_by == "index UserIndex provisioned write capacity"
    missing = table_capacity(dynamodb, "not-there")
    assert (missing.mode, missing.writes_per_second) == ("unknown", 4_000) and "not created yet" in missing.limited_by


def test_the_estimate_names_units_rate_and_time_and_advises_pre_warming_a_long_load(local_aws: LocalAws) -> None:
    _create(local_aws, "new")
    capacity = table_capacity(local_aws.client("dynamodb"), "new")
    line = load_estimate(30_000_000, 1.5, capacity)
    assert line.startswith("30,000,000 documents x 1.50 write units = 45,000,000 units; new (on-demand) takes "
                           "4,000 writes/s at once")
    assert "at least 3.1 h at that rate" in line and "mumble:warmWriteUnitsPerSecond" in line
    assert "pre-warm" not in load_estimate(100_000, 1.0, capacity)  # 25 s: not worth it
    assert [duration(s) for s in (5, 600, 36_000)] == ["5 s", "10 min", "10.0 h"]


def test_write_units_per_item_rounds_each_item_up_to_a_kilobyte() -> None:
    doc = {"_id": "a" * 24, "userId": "b" * 24, "prompt": "x" * 3000, "createdAt": "2024-01-01T00:00:00Z"}
    assert write_units_per_item(ImagesMapper(), [doc, {**doc, "prompt": "short"}, {"no": "id"}]) == 2.5
