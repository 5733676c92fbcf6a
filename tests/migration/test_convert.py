"""The generic BSON -> DynamoDB rules and the per-collection mappers, document by document."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from migration.convert import (
    Findings,
    Unconvertible,
    item_digest,
    item_size,
    parse_legacy_timestamp,
    to_attribute,
)
from migration.images import ImagesMapper
from migration.users import UsersMapper

OID = ObjectId("5fee660094a616324d000000")


def convert(value):
    findings = Findings()
    return to_attribute(value, findings, "f"), dict(findings.counts)


@pytest.mark.parametrize("value, expected", [
    (None, {"NULL": True}),
    (True, {"BOOL": True}),
    (42, {"N": "42"}),
    (Int64(2**60 + 1), {"N": "1152921504606846977"}),  # beyond 2^53: exact, not rounded through a double
    (0.1, {"N": "0.1"}),  # Decimal(repr(x)), not the binary expansion
    (-2.5e-7, {"N": "-0.00000025"}),
    (0.0, {"N": "0"}),
    (Decimal128("12.50"), {"N": "12.5"}),
    ("", {"S": ""}),
    ("文字", {"S": "文字"}),
    (dt.datetime(2021, 3, 4, 5, 6, 7, 890123), {"S": "2021-03-04T05:06:07.890Z"}),
    (dt.datetime(2021, 3, 4, 7, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2))), {"S": "2021-03-04T05:06:07.000Z"}),
    (OID, {"S": "5fee660094a616324d000000"}),
    (Binary(b"\x00\x01"), {"B": b"\x00\x01"}),
    ([1, "a", None], {"L": [{"N": "1"}, {"S": "a"}, {"NULL": True}]}),
    ({"a": {"b": []}}, {"M": {"a": {"M": {"b": {"L": []}}}}}),
])
def test_values_dynamodb_can_hold_convert_without_warnings(value, expected) -> None:
    assert convert(value) == (expected, {})


@pytest.mark.parametrize("value, expected, rule", [
    (math.nan, {"S": "NaN"}, "non_finite_number"),
    (-math.inf, {"S": "-Infinity"}, "non_finite_number"),
    (Decimal128("Infinity"), {"S": "Infinity"}, "non_finite_number"),
    (1e300, {"S": "1E+300"}, "number_out_of_range"),
    (Decimal128("9.99E+200"), {"S": "9.99E+200"}, "number_out_of_range"),
    (Decimal128("-1.5E-250"), {"S": "-1.5E-250"}, "number_out_of_range"),
    (10**40 + 1, {"S": str(10**40 + 1)}, "number_out_of_range"),  # 41 digits: more than DynamoDB keeps
    (Regex("^a", "i"), {"S": '{"$regularExpression":{"pattern":"^a","options":"i"}}'}, "unsupported_bson_type"),
    (Timestamp(5, 1), {"S": '{"$timestamp":{"t":5,"i":1}}'}, "unsupported_bson_type"),
    (MinKey(), {"S": '{"$minKey":1}'}, "unsupported_bson_type"),
    (MaxKey(), {"S": '{"$maxKey":1}'}, "unsupported_bson_type"),
    (Code("x()"), {"S": '{"$code":"x()"}'}, "unsupported_bson_type"),
])
def test_values_dynamodb_cannot_hold_change_form_with_a_warning(value, expected, rule) -> None:
    assert convert(value) == (expected, {rule: 1})


def test_nesting_beyond_32_levels_becomes_json_at_the_limit() -> None:
    deep: dict = {"leaf": 1}
    for _ in range(40):
        deep = {"x": deep}
    findings = Findings()
    attribute = to_attribute(deep, findings, "p")
    depth, node = 0, attribute
    while "M" in node:
        node = node["M"]["x"]
        depth += 1
    assert depth == 32 and node["S"].startswith('{"x":') and '"leaf":{"$numberInt":"1"}' in node["S"]
    assert findings.paths == {"nested_too_deep": ["p" + ".x" * 32]}


def test_digest_ignores_attribute_order_and_number_spelling_but_not_values() -> None:
    a = {"id": {"S": "1"}, "n": {"N": "1.50"}, "m": {"M": {"x": {"B": b"\x01"}, "y": {"NULL": True}}}}
    b = {"m": {"M": {"y": {"NULL": True}, "x": {"B": b"\x01"}}}, "n": {"N": "1.5"}, "id": {"S": "1"}}
    assert item_digest(a) == item_digest(b)
    assert item_digest(a) != item_digest({**b, "n": {"N": "1.51"}})
    assert item_digest(a) != item_digest({**b, "n": {"S": "1.5"}})


def test_item_size_follows_dynamodbs_accounting() -> None:
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + (1 + 1 + 1)


@pytest.mark.parametrize("value, expected", [
    (dt.datetime(2021, 1, 2, 3, 4, 5, 678000), "2021-01-02T03:04:05.678Z"),
    ("2021-01-02 03:04:05", "2021-01-02T03:04:05.000Z"),  # naive means UTC
    ("2021-01-02T03:04:05.678", "2021-01-02T03:04:05.678Z"),
    ("2021-01-02T05:04:05+02:00", "2021-01-02T03:04:05.000Z"),
    ("2021-01-02T03:04:05Z", "2021-01-02T03:04:05.000Z"),
    (Int64(1609556645678), "2021-01-02T03:04:05.678Z"),
    ("yesterday", None), ("", None), (True, None), (math.nan, None),
])
def test_legacy_dates_in_every_drifted_form(value, expected) -> None:
    assert parse_legacy_timestamp(value) == expected


def test_a_user_keeps_every_field_with_normalised_email_and_dates() -> None:
    doc = {"_id": OID, "email": "  Alice@Example.COM ", "username": "alice", "passwordHash": "$2a$10$x",
           "createdAt": "2021-01-02 03:04:05", "updatedAt": dt.datetime(2022, 1, 1), "__v": 0, "avatarUrl": None,
           "preferences": {"theme": "dark"}, "credits": Decimal128("3.10")}
    converted = UsersMapper().convert(doc)
    item = converted.item
    assert item["userId"] == {"S": str(OID)} and item["email"] == {"S": "alice@example.com"}
    assert item["createdAt"] == {"S": "2021-01-02T03:04:05.000Z"} and item["updatedAt"]["S"].startswith("2022-01-01")
    assert item["__v"] == {"N": "0"} and item["avatarUrl"] == {"NULL": True} and item["credits"] == {"N": "3.1"}
    assert item["sourceVersion"] == {"N": str(int(dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000))}
    assert item["origin"] == {"S": "legacy"} and "_id" not in item
    assert dict(converted.findings.counts) == {"email_normalised": 1}


@pytest.mark.parametrize("email, outcome", [(None, "email_missing"), ("  ", "email_missing"), (42, "index_key_type")])
def test_a_user_without_a_usable_email_leaves_the_index_or_is_dead_lettered(email, outcome) -> None:
    doc = {"_id": OID, "email": email}
    if outcome == "index_key_type":
        with pytest.raises(Unconvertible) as error:
            UsersMapper().convert(doc)
        assert error.value.rule == outcome
    else:
        converted = UsersMapper().convert(doc)
        assert "email" not in converted.item and converted.findings.counts[outcome] == 1
        # without any date, the version is the ObjectId's creation time
        assert converted.item["sourceVersion"] == {"N": str(int(OID.generation_time.timestamp() * 1000))}


def test_an_image_gets_media_keys_checksums_and_keeps_the_legacy_urls(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"png-bytes")
    owner = ObjectId("61225e0094a616324d000010")
    doc = {"_id": OID, "userId": owner, "createdAt": dt.datetime(2021, 1, 1), "imageUrl": "/uploads/images/a.png",
           "audioUrl": "/uploads/audio/gone.webm", "prompt": None}
    converted = ImagesMapper(tmp_path).convert(doc)
    item = converted.item
    assert item["imageKey"] == {"S": f"images/{owner}/a.png"} and re.fullmatch(r"[A-Za-z0-9+/]{43}=",
                                                                               item["imageSha256"]["S"])
    assert "audioKey" not in item and converted.findings.counts["media_missing"] == 1
    assert item["legacyImageUrl"] == {"S": "/uploads/images/a.png"} and "imageUrl" not in item
    assert item["userId"] == {"S": str(owner)} and item["prompt"] == {"NULL": True}
    assert [m.key for m in converted.media] == [f"images/{owner}/a.png"] and converted.media[0].size == 9
    assert converted.key == (str(OID), "2021-01-01T00:00:00.000Z")


def test_an_image_without_a_date_is_dated_by_its_objectid_and_unowned_media_stay_addressable() -> None:
    converted = ImagesMapper().convert({"_id": OID, "createdAt": "not a date", "imageUrl": "/uploads/images/b.png"})
    assert converted.item["createdAt"] == {"S": "2021-01-01T00:00:00.000Z"}
    assert converted.item["legacyCreatedAt"] == {"S": "not a date"}
    assert converted.item["imageKey"] == {"S": "images/unowned/b.png"} and "userId" not in converted.item
    assert {"unparseable_date", "createdAt_from_objectid", "userId_missing"} <= set(converted.findings.counts)


@pytest.mark.parametrize("doc, rule", [
    ({"createdAt": dt.datetime(2021, 1, 1)}, "missing_key"),
    ({"_id": "", "createdAt": dt.datetime(2021, 1, 1)}, "key_type"),
    ({"_id": OID, "userId": 7, "createdAt": dt.datetime(2021, 1, 1)}, "index_key_type"),
    ({"_id": "plain-id", "createdAt": None}, "missing_key"),
    ({"_id": OID, "createdAt": dt.datetime(2021, 1, 1), "transcription": "x" * 410_000}, "item_too_large"),
])
def test_documents_that_cannot_become_items_name_their_rule(doc, rule) -> None:
    with pytest.raises(Unconvertible) as error:
        ImagesMapper().convert(doc)
    assert error.value.rule == rule
