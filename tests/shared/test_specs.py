"""The shared specs are the design's tables and key layout, as pure data every part can import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from functions.shared.storage import media_key
from functions.shared.tables import IMAGES, TABLES, USERS, create_table_kwargs, key_schema_problems, ttl_kwargs

from tests.conftest import ROOT


def test_users_table_is_keyed_by_legacy_id_with_an_email_index() -> None:
    assert create_table_kwargs(USERS, "mumble-prod-users") == {
        "TableName": "mumble-prod-users",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "userId", "AttributeType": "S"},
                                 {"AttributeName": "email", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [{"IndexName": "EmailIndex",
                                    "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "ALL"}}],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def test_images_table_has_the_seed_plans_keys_and_user_index() -> None:
    kwargs = create_table_kwargs(IMAGES, "t")
    assert kwargs["KeySchema"] == [{"AttributeName": "imageId", "KeyType": "HASH"},
                                   {"AttributeName": "createdAt", "KeyType": "RANGE"}]
    # Each attribute is defined once even though createdAt is a key of both the table and the index.
    assert kwargs["AttributeDefinitions"] == [{"AttributeName": "imageId", "AttributeType": "S"},
                                              {"AttributeName": "createdAt", "AttributeType": "S"},
                                              {"AttributeName": "userId", "AttributeType": "S"}]
    assert kwargs["GlobalSecondaryIndexes"][0]["IndexName"] == "UserIndex"
    assert kwargs["GlobalSecondaryIndexes"][0]["KeySchema"] == [{"AttributeName": "userId", "KeyType": "HASH"},
                                                               {"AttributeName": "createdAt", "KeyType": "RANGE"}]
    assert IMAGES.index_key_types == {"imageId": "S", "createdAt": "S", "userId": "S"}
    assert ttl_kwargs(IMAGES, "t") is None


def test_physical_names_are_per_stage() -> None:
    assert {spec.physical_name("staging") for spec in TABLES.values()} == {
        "mumble-staging-users", "mumble-staging-images", "mumble-staging-migration-state", "mumble-staging-jobs",
        "mumble-staging-connections", "mumble-staging-weather-cache", "mumble-staging-idempotency"}


def _described(spec, **changes):
    kwargs = create_table_kwargs(spec, "live")
    described = {"TableName": "live", "KeySchema": kwargs["KeySchema"],
                 "AttributeDefinitions": kwargs["AttributeDefinitions"],
                 "GlobalSecondaryIndexes": kwargs.get("GlobalSecondaryIndexes", [])}
    described.update(changes)
    return described


def test_a_matching_table_has_no_problems() -> None:
    assert key_schema_problems(IMAGES, _described(IMAGES)) == []


@pytest.mark.parametrize("changes, expected", [
    ({"KeySchema": [{"AttributeName": "imageId", "KeyType": "HASH"}]},
     "table live key schema is imageId HASH (S), expected imageId HASH (S), createdAt RANGE (S)"),
    ({"AttributeDefinitions": [{"AttributeName": "imageId", "AttributeType": "S"},
                               {"AttributeName": "createdAt", "AttributeType": "N"},
                               {"AttributeName": "userId", "AttributeType": "S"}]},
     "table live key schema is imageId HASH (S), createdAt RANGE (N), expected"),
    ({"GlobalSecondaryIndexes": []}, "table live has no global secondary index UserIndex"),
])
def test_a_different_table_is_described_in_words(changes, expected) -> None:
    problems = key_schema_problems(IMAGES, _described(IMAGES, **changes))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_media_keys_are_scoped_by_owner_and_refuse_path_tricks() -> None:
    assert media_key("images", "5fee660094a616324d000000", "a.png") == "images/5fee660094a616324d000000/a.png"
    for bad in [("videos", "u", "a"), ("audio", "", "a.webm"), ("audio", "u/../v", "a"), ("audio", "u", "../x"),
                ("thumbnails", "u", "..")]:
        with pytest.raises(ValueError):
            media_key(*bad)


def test_specs_import_without_pulumi_or_boto3() -> None:
    """Lambda, migration and infra all import the specs; they must not drag in each other's dependencies."""
    code = ("import sys, functions.shared.tables, functions.shared.storage; "
            "print(sorted(m for m in ('pulumi', 'pulumi_aws', 'boto3', 'pymongo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
