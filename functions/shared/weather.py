"""Current weather from OpenWeather through `requests`, cached in a DynamoDB TTL table by rounded coordinates.

The seed plan cached weather in Redis; a TTL table does the same without a VPC. Coordinates are rounded to two
decimals (about 1 km), so neighbours share an answer for `CACHE_SECONDS`. TTL deletion is lazy, so a read also
checks `expiresAt` itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import requests

from functions.shared.aws import from_item, to_item
from functions.shared.versions import now_timestamp

DEFAULT_BASE_URL = "https://api.openweathermap.org"
CACHE_SECONDS = 600
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 2.0, 4.0


class WeatherUnavailable(RuntimeError):
    """OpenWeather did not answer usefully; the message says how."""


def cache_key(lat: float, lon: float) -> str:
    return f"{round(lat, 2):.2f},{round(lon, 2):.2f}"


@dataclass
class WeatherService:
    dynamodb: Any
    table: str
    api_key: Callable[[], str]  # read lazily: a cache hit needs no key
    base_url: str = DEFAULT_BASE_URL
    session: requests.Session | None = None

    def current(self, lat: float, lon: float) -> dict[str, Any]:
        """`{description, temperature, humidity, windSpeed, city, lat, lon, fetchedAt, cached}`."""
        key = cache_key(lat, lon)
        found = self.dynamodb.get_item(TableName=self.table, Key={"cacheKey": {"S": key}}).get("Item")
        if found:
            item = from_item(found)
            if item.get("expiresAt", 0) > time.time():
                return {**item["weather"], "cached": True}
        weather = self._fetch(round(lat, 2), round(lon, 2))
        self.dynamodb.put_item(TableName=self.table, Item=to_item(
            {"cacheKey": key, "weather": weather, "expiresAt": int(time.time()) + CACHE_SECONDS}))
        return {**weather, "cached": False}

    def _fetch(self, lat: float, lon: float) -> dict[str, Any]:
        session = self.session or requests.Session()
        try:
            response = session.get(f"{self.base_url.rstrip('/')}/data/2.5/weather",
                                   params={"lat": lat, "lon": lon, "appid": self.api_key(), "units": "metric"},
                                   timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException as error:
            raise WeatherUnavailable(f"OpenWeather did not answer: {type(error).__name__}") from None
        if response.status_code != 200:
            raise WeatherUnavailable(f"OpenWeather answered {response.status_code}")
        try:
            data = response.json()
            conditions = data["weather"][0]
            return {
                "description": str(conditions["description"]),
                "temperature": float(data["main"]["temp"]),
                "humidity": data["main"].get("humidity"),
                "windSpeed": (data.get("wind") or {}).get("speed"),
                "city": data.get("name") or None,
                "lat": lat, "lon": lon,
                "fetchedAt": now_timestamp(),
            }
        except (ValueError, KeyError, IndexError, TypeError):
            raise WeatherUnavailable("OpenWeather answered with an unexpected shape") from None
