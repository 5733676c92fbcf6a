"""boto3 clients made once per execution environment, on first use, and the conversion between DynamoDB attribute
values and plain Python values."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))  # presigned URLs signed with SigV4, headers included


@functools.cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """One client per service (and endpoint) for the life of the execution environment."""
    return boto3.client(service, endpoint_url=endpoint_url, config=_S3_CONFIG if service == "s3" else _CONFIG)


class LazyClient:
    """Stands in for `client(service, endpoint_url)` until first used. Handlers wire their services at import; a
    client costs tens of milliseconds to create (service model, endpoint rules), and a route that never touches it
    (e.g. `GET /jobs/{id}` never invokes the worker) should not pay for it on a cold start."""

    def __init__(self, service: str, endpoint_url: str | None = None) -> None:
        self._service = service
        self._endpoint_url = endpoint_url

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._endpoint_url), name)


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> attribute values; None values are left out (an absent attribute, not NULL)."""
    return {key: _serializer.serialize(_numbers_to_decimal(value)) for key, value in values.items()
            if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Attribute values -> plain values; numbers become int or float so they serialise as JSON."""
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _numbers_to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _numbers_to_decimal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_to_decimal(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value
