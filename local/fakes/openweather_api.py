"""A local OpenWeather: `GET /data/2.5/weather?lat&lon&appid&units=metric` in the real API's shape, deterministic
from the coordinates (the same point always has the same weather)."""

from __future__ import annotations

import hashlib
import time

from werkzeug.wrappers import Request, Response

from local.fakes.faults import FaultyApp, error_response, json_response

WEATHER = "/data/2.5/weather"
CONDITIONS = (("Clear", "clear sky", "01d"), ("Clouds", "scattered clouds", "03d"), ("Rain", "light rain", "10d"),
              ("Snow", "light snow", "13d"), ("Mist", "mist", "50d"))


def route(request: Request) -> Response:
    if request.path != WEATHER or request.method != "GET":
        return error_response(404, "Internal error")
    if not request.args.get("appid"):
        return error_response(401, "Invalid API key. Please see https://openweathermap.org/faq#error401")
    try:
        lat, lon = float(request.args["lat"]), float(request.args["lon"])
    except (KeyError, ValueError):
        return error_response(400, "wrong latitude or longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return error_response(400, "wrong latitude or longitude")
    seed = hashlib.sha256(f"{lat:.2f},{lon:.2f}".encode()).digest()
    main, description, icon = CONDITIONS[seed[0] % len(CONDITIONS)]
    return json_response({
        "coord": {"lon": lon, "lat": lat},
        "weather": [{"id": 800 + seed[0] % 5, "main": main, "description": description, "icon": icon}],
        "base": "stations",
        "main": {"temp": round(-5 + seed[1] / 255 * 35, 2), "feels_like": round(-7 + seed[1] / 255 * 35, 2),
                 "pressure": 1000 + seed[2] % 30, "humidity": 30 + seed[3] % 60},
        "wind": {"speed": round(seed[4] / 255 * 12, 2), "deg": seed[5] % 360},
        "dt": int(time.time()), "timezone": 0, "id": int.from_bytes(seed[6:9], "big"),
        "name": f"Place {seed[9] % 100}", "cod": 200,
    })


def make_app() -> FaultyApp:
    return FaultyApp(route)
