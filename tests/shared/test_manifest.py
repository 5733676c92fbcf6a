"""The function manifest is consistent with the table and bucket specs and covers the seed plan's functions."""

from __future__ import annotations

from functions import manifest
from functions.manifest import FUNCTIONS, HttpRoute, http_routes, manifest_problems


def test_manifest_is_consistent() -> None:
    assert manifest_problems() == []


def test_every_seed_function_and_trigger_is_there() -> None:
    names = {spec.name for spec in FUNCTIONS}
    assert {"health", "audioUpload", "speechToText", "generateImage", "weatherData", "imageGallery", "userProfile",
            "websocket", "websocketAuthorizer", "imageProcessor", "maintenance", "userMigration"} <= names
    keys = {route.route_key for route, _ in http_routes()}
    assert {"GET /api/v1/health", "POST /api/v1/audio/upload", "POST /api/v1/transcriptions",
            "POST /api/v1/generate", "GET /api/v1/jobs/{jobId}", "GET /api/v1/weather", "GET /api/v1/images",
            "GET /api/v1/images/{imageId}", "DELETE /api/v1/images/{imageId}", "GET /api/v1/users/me",
            "PUT /api/v1/users/me"} == keys
    assert [route.route_key for route, _ in http_routes() if route.public] == ["GET /api/v1/health"]


def test_a_typo_in_the_manifest_is_reported(monkeypatch) -> None:
    broken = FUNCTIONS[0].__class__(
        name="broken", handler="functions.x.handler", description="", timeout_s=60,
        http_routes=(HttpRoute("GET", "/health"),),
        tables=(manifest.TableAccess("userz", ("dynamodb:GetItem",)),
                manifest.TableAccess("images", ("dynamodb:Query",), indexes=("ByUser",))),
        buckets=(manifest.BucketAccess("media", ("audio",), ("s3:GetObject",)),), invokes=("nobody",))
    monkeypatch.setattr(manifest, "FUNCTIONS", FUNCTIONS + (broken,))
    monkeypatch.setattr(manifest, "BY_NAME", {s.name: s for s in manifest.FUNCTIONS})
    assert manifest_problems() == [
        "broken: unknown table 'userz'", "broken: table 'images' has no index 'ByUser'",
        "broken: bucket prefix 'audio' must end with '/'", "broken: invokes unknown function 'nobody'",
        "broken: route GET /api/v1/health is served twice",
        "broken: an HTTP API integration times out after 29 s; timeout must be <= 29"]


def test_environment_names_are_derived_one_way() -> None:
    assert manifest.table_env("weather-cache") == "WEATHER_CACHE_TABLE"
    assert manifest.secret_env("openaiApiKey") == "OPENAI_API_KEY_PARAM"
    assert manifest.function_env("generateImageWorker") == "GENERATE_IMAGE_WORKER_FUNCTION"
