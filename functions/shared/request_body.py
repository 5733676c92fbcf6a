"""The one strict reader of request bodies, for every JSON route and WebSocket action: bytes -> UTF-8 -> standard
JSON within limits, so that anything it accepts can be validated by a schema and stored, and anything else is a
400 (or 413) naming what is wrong - never a 5xx.

- Body: at most `MAX_BODY_BYTES` (64 KiB; the largest legitimate body, a profile with its preferences, is a few kB,
  and this keeps every item far under DynamoDB's 400 KB). API Gateway base64-encodes binary bodies: they are
  decoded first.
- Text: UTF-8, strictly (the first bad byte and its position are named).
- Nesting: at most `MAX_DEPTH` (16) levels of objects and arrays, counted before parsing, so no input can exhaust
  the parser's recursion.
- Numbers: standard JSON only - `NaN`, `Infinity` and `-Infinity` (which Python's parser accepts) are refused -
  and within what DynamoDB stores (38 significant digits, magnitudes from 1E-130 to 1E+125), so a number that
  passes a schema can always be written.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125


class BodyError(ValueError):
    """The body is not one this API reads; `status` is 400 or 413 and the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def body_text(body: str | None, base64_encoded: bool) -> str:
    """The body as text: base64 undone when API Gateway applied it, then strict UTF-8, within the size limit."""
    if body is None:
        return ""
    if base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodyError("the body is marked base64 but is not valid base64") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise BodyError(f"the body is {len(raw):,} bytes; at most {MAX_BODY_BYTES:,} are accepted", 413)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(f"the body is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})") \
            from None


def parse_json(text: str) -> Any:
    """Standard JSON within the nesting and number limits; BodyError otherwise."""
    if not text.strip():
        raise BodyError("a JSON body is required")
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise BodyError(f"the body nests {depth} levels deep; at most {MAX_DEPTH} are accepted")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_number, parse_int=_integer)
    except BodyError:
        raise
    except (ValueError, RecursionError) as error:
        raise BodyError(f"the body is not valid JSON: {error}") from None


def read_json(body: str | None, base64_encoded: bool = False) -> Any:
    return parse_json(body_text(body, base64_encoded))


def nesting_depth(text: str) -> int:
    """The deepest nesting of `{`/`[` outside strings (a scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise BodyError(f"the body is not standard JSON: {name} is not a JSON number")


def _check(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BodyError(f"the number {text[:40]} cannot be read") from None
    digits = len(number.as_tuple().digits)
    if not number.is_zero() and (digits > MAX_DIGITS or not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT):
        raise BodyError(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is outside what can be stored "
                        f"(at most {MAX_DIGITS} digits, magnitude 1E{MIN_EXPONENT} to 1E+{MAX_EXPONENT})")
    return number


def _number(text: str) -> float:
    _check(text)
    return float(text)


def _integer(text: str) -> int:
    _check(text)
    return int(text)
