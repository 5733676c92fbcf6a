"""GET /api/v1/weather?lat&lon: current weather at a point (OpenWeather), cached by rounded coordinates."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.shared.api import ApiError, caller, make_resolver, query_float
from functions.shared.aws import LazyClient
from functions.shared.secrets import SecretNotSet, api_key
from functions.shared.settings import optional, table_name
from functions.shared.weather import DEFAULT_BASE_URL, WeatherService, WeatherUnavailable

logger = Logger()
metrics = Metrics()
app = make_resolver(logger)
WEATHER = WeatherService(LazyClient("dynamodb"), table_name("weather-cache"), lambda: api_key("openweatherApiKey"),
                         optional("OPENWEATHER_BASE_URL", DEFAULT_BASE_URL) or DEFAULT_BASE_URL)


@app.get("/weather")
def weather() -> dict[str, Any]:
    caller(app)
    lat = query_float(app, "lat", -90.0, 90.0)
    lon = query_float(app, "lon", -180.0, 180.0)
    try:
        current = WEATHER.current(lat, lon)
    except SecretNotSet as error:
        logger.error(str(error))
        raise ApiError(503, "ServiceUnavailable", "weather is not configured on this stage") from None
    except WeatherUnavailable as error:
        raise ApiError(502, "UpstreamError", str(error)) from None
    metrics.add_metric(name="WeatherCacheHits" if current["cached"] else "WeatherCacheMisses",
                       unit=MetricUnit.Count, value=1)
    return current


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
