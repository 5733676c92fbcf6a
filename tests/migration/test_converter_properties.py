"""Hypothesis-generated legacy documents (every BSON type, random nesting and sizes) through the users and images
mappers: the mapper never fails with anything but `Unconvertible` (a dead letter, counted by rule), and every
document it converts comes back - through the reverse sync's own path (`bson_values` with the document as the
template, then `legacy_document`) - as an equal document, field by field and BSON type by BSON type, except where
the mapper recorded a warning on that field or a documented rule changes its form (dates normalised to one
instant format, emails trimmed and lower-cased: both counted in the findings when they change anything).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from decimal import Decimal
from typing import Any

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.shared.legacy_documents import TIMESTAMPS, bson_values, legacy_document
from migration.convert import Unconvertible, parse_legacy_timestamp
from migration.images import ImagesMapper
from migration.users import UsersMapper

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40")) * 5  # pure functions: cheap, so more of them
# What the mappers add beside the document's own fields (bookkeeping and the media keys), never a changed value.
ADDED = {"sourceVersion", "origin", "legacyCreatedAt", "imageKey", "audioKey", "imageSha256", "audioSha256",
         "createdAt"}

# The sync's bookkeeping and the mappers' own names (the reverse sync writes them into legacy documents itself).
RESERVED = ADDED | {"_id", "legacyImageUrl", "legacyAudioUrl", "audioUrl"}

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
keys = text.filter(lambda key: key and not key.startswith("$"))
millis = st.integers(min_value=-2_208_988_800_000, max_value=7_258_118_400_000)  # 1900..2200, as BSON keeps them
dates = millis.map(lambda ms: dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 31, 2 ** 31 - 1), st.integers(-2 ** 63, 2 ** 63 - 1).map(Int64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: len(d.as_tuple().digits) <= 34 and -6176 <= d.as_tuple().exponent <= 6111).map(Decimal128),
    st.sampled_from([Decimal128("NaN"), Decimal128("Infinity"), Decimal128("-Infinity"), Decimal128("1E+6000")]),
    text, dates, st.binary(min_size=12, max_size=12).map(ObjectId),
    st.builds(Binary, st.binary(max_size=64), st.sampled_from([0, 5, 128])),
    st.uuids().map(lambda u: Binary(u.bytes, 4)),
    st.builds(Regex, text, st.sampled_from(["", "i", "ms"])), st.builds(Code, text),
    st.builds(Timestamp, st.integers(0, 2 ** 31 - 1), st.integers(0, 2 ** 31 - 1)),
    st.just(MinKey()), st.just(MaxKey()),
)
values = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)), max_leaves=30)
deep = st.integers(30, 40).map(lambda n: _nest(n))


def _nest(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


def _documents(fixed: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    other = st.dictionaries(keys.filter(lambda k: k not in fixed and k not in RESERVED), st.one_of(values, deep),
                            max_size=8)
    return st.builds(lambda oid, known, rest: {"_id": oid, **known, **rest},
                     st.binary(min_size=12, max_size=12).map(ObjectId), st.fixed_dictionaries({}, optional=fixed),
                     other)


USERS = _documents({"email": st.one_of(text, st.none(), st.just("  Mixed@Example.COM "), values),
                    "createdAt": st.one_of(dates, millis.map(Int64), text, st.none()),
                    "updatedAt": st.one_of(dates, st.none()), "displayName": text})
IMAGES = _documents({"userId": st.one_of(st.binary(min_size=12, max_size=12).map(ObjectId),
                                         st.binary(min_size=12, max_size=12).map(lambda b: b.hex()), st.none(),
                                         values),
                     "createdAt": st.one_of(dates, millis.map(Int64), text),
                     "imageUrl": st.one_of(st.just("/uploads/images/a.png"), st.just("https://expired.example/x"),
                                           text),
                     "prompt": text})


def _value_of(value: Any) -> Any:
    """Numbers by their value: DynamoDB keeps neither a Decimal128's trailing zeros (0.0130 comes back 0.013) nor
    the sign of a zero (-0.0 comes back 0.0); both documented in migration/convert.py."""
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        return Decimal128(abs(number) if number.is_zero() else number.normalize()) if number.is_finite() else value
    if isinstance(value, float) and value == 0:
        return 0.0
    if isinstance(value, dict):
        return {key: _value_of(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_value_of(child) for child in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal as BSON: the same bytes, so the same types (int32/Int64/double, binary subtypes) and NaN == NaN."""
    return bson.encode({"v": _value_of(a)}) == bson.encode({"v": _value_of(b)})


def _round_trip(collection: str, mapper: Any, doc: dict[str, Any]) -> None:
    assert bson.encode(doc)  # a document MongoDB could hold
    try:
        converted = mapper.convert(doc)
    except Unconvertible as error:
        assert error.rule  # a dead letter, counted under its rule
        return
    paths = [path for found in converted.findings.paths.values() for path in found]
    restored = legacy_document(collection, bson_values(converted.item, doc))
    assert _same(restored["_id"], doc["_id"])
    for name, original in doc.items():
        if name == "_id" or any(path == name or path.startswith((f"{name}.", f"{name}[")) for path in paths):
            continue  # a counted warning names this field
        if name in TIMESTAMPS and original is not None:
            instant = parse_legacy_timestamp(original)
            assert instant is not None and _same(restored.get(name), legacy_document(
                collection, {"userId" if collection == "users" else "imageId": "x", name: instant})[name]), name
            continue
        if name == "email" and isinstance(original, str):
            assert restored.get(name) == original.strip().lower() or (not original.strip() and name not in restored)
            continue
        assert name in restored and _same(restored[name], original), (name, original, restored.get(name))
    assert set(restored) - set(doc) <= ADDED, set(restored) - set(doc)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(USERS)
def test_any_users_document_converts_back_or_is_a_counted_dead_letter(doc: dict[str, Any]) -> None:
    _round_trip("users", UsersMapper(), doc)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(IMAGES)
def test_any_images_document_converts_back_or_is_a_counted_dead_letter(doc: dict[str, Any]) -> None:
    _round_trip("images", ImagesMapper(), doc)


@given(st.integers(min_value=-2_208_988_800_000, max_value=7_258_118_400_000))
def test_a_version_is_the_exact_millisecond_of_its_date(ms: int) -> None:
    """Found by the round trip above: float arithmetic put 1/1000 of dates a millisecond early (1.001 s -> 1000)."""
    from functions.shared.legacy_documents import document_version
    from functions.shared.versions import format_timestamp, timestamp_millis

    when = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    assert timestamp_millis(format_timestamp(when)) == ms
    assert document_version({"_id": ObjectId(), "updatedAt": when}) == ms
