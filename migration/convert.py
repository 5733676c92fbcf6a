"""Generic, lossless-or-loud conversion of BSON values into DynamoDB attribute values (the low-level typed form).

Every value converts by one documented rule; where DynamoDB cannot hold a value as it is, the rule changes its
form and records a warning (rule + attribute path), so nothing is lost without a report line:

| BSON                                   | DynamoDB                                                   | warning rule              |
| -------------------------------------- | ---------------------------------------------------------- | ------------------------- |
| null                                   | NULL                                                       |                           |
| bool                                   | BOOL                                                       |                           |
| int32 / int64                          | N (exact; DynamoDB keeps 38 digits)                        |                           |
| double                                 | N from `Decimal(repr(x))`, the shortest exact; -0.0 is 0   |                           |
| double NaN / +-Infinity                | S "NaN" / "Infinity" / "-Infinity"                         | non_finite_number         |
| double or Decimal128 beyond 1E-130..1E+126 | S of the number                                        | number_out_of_range       |
| Decimal128                             | N (34 digits fit; its value, not its trailing zeros)       |                           |
| string (empty included)                | S                                                          |                           |
| date                                   | S `YYYY-MM-DDTHH:MM:SS.mmmZ` (naive means UTC)             |                           |
| ObjectId                               | S, 24 hex digits                                           |                           |
| binary (any subtype, UUID included)    | B                                                          |                           |
| array / embedded document              | L / M                                                      |                           |
| nesting deeper than 32 levels          | S: canonical extended JSON of the too-deep value           | nested_too_deep           |
| regex, code, timestamp, min/max key, DBRef | S: canonical extended JSON                             | unsupported_bson_type     |

Keys of the table and its indexes are stricter (never NULL, empty or of another type); the per-collection mappers
enforce that, and anything that cannot become a valid item is dead-lettered rather than written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any

from bson import Binary, Code, Decimal128, ObjectId, json_util
from bson.json_util import CANONICAL_JSON_OPTIONS

from functions.shared.versions import format_timestamp

MAX_DEPTH = 32  # DynamoDB's limit on nesting of lists and maps
MAX_ITEM_BYTES = 400 * 1024
_MIN_EXPONENT, _MAX_EXPONENT = -130, 125  # DynamoDB numbers: 1E-130 to 9.9999999999999999999999999999999999999E+125
_CONTEXT = Context(prec=38)

AttributeValue = dict[str, Any]


@dataclass
class Findings:
    """Warnings raised while converting one document: counts by rule, and where they happened."""

    counts: Counter = field(default_factory=Counter)
    paths: dict[str, list[str]] = field(default_factory=dict)

    def add(self, rule: str, path: str) -> None:
        self.counts[rule] += 1
        self.paths.setdefault(rule, []).append(path)


class Unconvertible(ValueError):
    """The document cannot become a valid item; `rule` names why (it goes to the dead-letter file)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def to_attribute(value: Any, findings: Findings, path: str = "", depth: int = 0) -> AttributeValue:
    """One BSON value as a DynamoDB attribute value, by the rules in the module docstring."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return _number(Decimal(value), findings, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            findings.add("non_finite_number", path)
            return {"S": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
        return _number(Decimal(repr(value)), findings, path)
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        if not number.is_finite():
            findings.add("non_finite_number", path)
            return {"S": str(number)}
        return _number(number, findings, path)
    if isinstance(value, str) and not isinstance(value, Code):  # bson.Code is a str subclass: keep its type
        return {"S": value}
    if isinstance(value, dt.datetime):
        return {"S": format_timestamp(value)}
    if isinstance(value, ObjectId):
        return {"S": str(value)}
    if isinstance(value, (Binary, bytes)):
        return {"B": bytes(value)}
    if isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            findings.add("nested_too_deep", path)
            return {"S": canonical_json(value)}
        if isinstance(value, dict):
            return {"M": {str(key): to_attribute(child, findings, _join(path, str(key)), depth + 1)
                          for key, child in value.items()}}
        return {"L": [to_attribute(child, findings, f"{path}[{n}]", depth + 1) for n, child in enumerate(value)]}
    findings.add("unsupported_bson_type", path)
    return {"S": canonical_json(value)}


def _number(number: Decimal, findings: Findings, path: str) -> AttributeValue:
    if number.is_zero():
        return {"N": "0"}
    if not (_MIN_EXPONENT <= number.adjusted() <= _MAX_EXPONENT) or len(number.as_tuple().digits) > 38:
        findings.add("number_out_of_range", path)
        return {"S": str(number)}
    return {"N": _plain(number)}


def _plain(number: Decimal) -> str:
    """A number as DynamoDB prints it back: no exponent where avoidable, no trailing zeros."""
    return format(number.normalize(_CONTEXT), "f")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def canonical_json(value: Any) -> str:
    """Canonical extended JSON (types kept, keys in document order): for values DynamoDB cannot hold natively."""
    return json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS, sort_keys=False, separators=(",", ":"))


def item_size(item: dict[str, AttributeValue]) -> int:
    """DynamoDB's item size: attribute names plus values, as AWS documents the accounting."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_digest(item: dict[str, AttributeValue]) -> str:
    """An order-independent hash of an item, equal for the converted document and the item DynamoDB returns."""
    return hashlib.sha256(json.dumps(_canonical(item), sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (kind, inner), = value.items()
            if kind == "N":
                return {"N": _plain(Decimal(inner))}
            if kind == "B":
                return {"B": bytes(inner).hex()}
            if kind in ("SS", "NS", "BS"):
                return {kind: sorted(inner)}
        return {key: _canonical(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_canonical(child) for child in value]
    return value


def parse_legacy_timestamp(value: Any) -> str | None:
    """A legacy date in any of its drifted forms as `YYYY-MM-DDTHH:MM:SS.mmmZ`, or None if it is not a date.

    BSON date; epoch milliseconds (int, Int64, double); ISO-8601 or `YYYY-MM-DD HH:MM:SS` strings with or without a
    zone (none means UTC).
    """
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not (0 <= value < 253402300800000):
            return None
        return format_timestamp(dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(value)))
    if isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "T", 1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            return format_timestamp(dt.datetime.fromisoformat(text))
        except ValueError:
            return None
    return None
