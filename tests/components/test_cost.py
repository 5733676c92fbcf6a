"""The monthly cost model: each priced resource type against a hand-computed figure, unpriced types refused, a
stage setting's price, and bad usage files (`python -m components.cost`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import cost
from components.offline import OfflinePlan, PlannedResource, run_offline, stage_config

STAGES = ("dev", "staging", "prod")
PRICES = cost.load_prices()
USAGE = cost.load_usage()


def _plan(*resources: tuple[str, str, dict]) -> OfflinePlan:
    plan = OfflinePlan("test")
    for type_, name, inputs in resources:
        plan.resources.append(PlannedResource(urn=f"urn::{type_}::{name}", type=type_, name=name, parent="",
                                              inputs=inputs, custom=True, protect=False, retain_on_delete=False,
                                              ignore_changes=(), provider=""))
    return plan


def _lines(estimate: cost.Estimate, service: str) -> dict[str, float]:
    return {line.driver: line.monthly for line in estimate.lines if line.service == service}


def _usage(**overrides: float) -> dict[str, float]:
    quiet = {key: 0.0 for key in USAGE}
    return {**quiet, **overrides}


def test_no_resource_type_of_any_stage_goes_unpriced() -> None:
    for stage in STAGES:
        plan = run_offline(stage)
        assert cost.unpriced_types(plan) == [], stage
        assert cost.estimate(plan, USAGE).not_priced == [], stage


def test_a_new_type_is_listed_as_not_priced_never_as_zero() -> None:
    plan = _plan(("aws:rds/instance:Instance", "db", {"instanceClass": "db.t3.micro"}))
    result = cost.estimate(plan, USAGE)
    assert result.not_priced == ["aws:rds/instance:Instance (no price in the model)"]
    assert "not priced" in cost.render(result, 0.0, PRICES)


def test_lambda_requests_duration_and_provisioned_concurrency_by_hand() -> None:
    plan = _plan(("aws:lambda/function:Function", "f", {"name": "mumble-t-imageGallery", "memorySize": 512,
                                                        "architectures": ["arm64"]}),
                 ("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig", "pc",
                  {"functionName": "mumble-t-imageGallery", "provisionedConcurrentExecutions": 2}))
    # 1,000 users x 30 views x 3 requests: 90,000 API requests, of which two thirds reach imageGallery.
    result = cost.estimate(plan, _usage(active_users=1000, gallery_views_per_user=30, api_requests_per_view=3))
    lines = _lines(result, "Lambda")
    assert lines["imageGallery requests"] == pytest.approx(60_000 * 0.20 / 1e6)
    # 60,000 x 0.5 GB x 0.150 s (no cold starts in this profile) x $0.0000133334
    assert lines["imageGallery duration (512 MB arm64)"] == pytest.approx(60_000 * 0.5 * 0.150 * 0.0000133334)
    # 2 x 0.5 GB for 730 hours x $0.0000033334 per GB-second
    assert lines["imageGallery provisioned concurrency x2"] == pytest.approx(2 * 0.5 * 730 * 3600 * 0.0000033334)


def test_dynamodb_on_demand_storage_and_pitr_by_hand() -> None:
    plan = _plan(("aws:dynamodb/table:Table", "images", {"name": "mumble-t-images",
                                                        "pointInTimeRecovery": {"enabled": True}}))
    result = cost.estimate(plan, _usage(active_users=100, recordings_per_user=10, gallery_views_per_user=4,
                                        api_requests_per_view=3, sessions_per_user=2))
    lines = _lines(result, "DynamoDB")
    assert lines["writes (images, jobs, idempotency, cache)"] == pytest.approx(1000 * 9 * 0.625 / 1e6)
    assert lines["reads (gallery, jobs, profiles, cache)"] == pytest.approx((1200 + 200) * 1.5 * 0.125 / 1e6)
    gb = 100 * 10 * 12 * 1.5 * 1024 / 1024 ** 3  # a year of 1.5 kB items
    assert lines["images storage (a year of items)"] == pytest.approx(gb * 0.25)
    assert lines["images point-in-time recovery"] == pytest.approx(gb * 0.20)


def test_s3_storage_requests_and_transfer_by_hand() -> None:
    plan = _plan(("aws:s3/bucket:Bucket", "media", {}))
    result = cost.estimate(plan, _usage(active_users=10, recordings_per_user=10, image_mb=1024, stored_media_gb=9,
                                        gallery_views_per_user=2, thumbnail_kb=1024 * 1024, image_views_per_user=1))
    lines = _lines(result, "S3")
    # 9 GB there, plus 100 recordings of a 1 GB image and a 1 GB thumbnail (the audio is 0 kB here)
    assert lines["media stored (existing + this month's)"] == pytest.approx((9 + 100 * (1 + 1)) * 0.023)
    assert lines["uploads (audio, image, thumbnail)"] == pytest.approx(300 * 0.005 / 1000)
    thumbnails, images = 10 * 2 * 20 * 0.5, 10
    assert lines["downloads (presigned thumbnails and images)"] == pytest.approx((thumbnails + images) * 0.0004 / 1000)
    assert lines["transfer to browsers (presigned URLs)"] == pytest.approx((thumbnails * 1 + images * 1) * 0.09)


def test_cloudfront_price_class_decides_which_edges_bill() -> None:
    def edge(price_class: str) -> dict[str, float]:
        plan = _plan(("aws:cloudfront/distribution:Distribution", "edge", {"priceClass": price_class}))
        return _lines(cost.estimate(plan, _usage(active_users=1000, sessions_per_user=5, viewers_in_asia=0.8)),
                      "CloudFront")
    cheap, everywhere = edge("PriceClass_100"), edge("PriceClass_All")
    requests = 1000 * 5 * 2 + 1000 * 5  # page loads and their API calls
    assert cheap["HTTPS requests (NA/EU edges)"] == pytest.approx(requests * 0.0100 / 10000)
    assert "HTTPS requests (Asia edges)" not in cheap
    assert everywhere["HTTPS requests (Asia edges)"] == pytest.approx(requests * 0.8 * 0.0120 / 10000)
    assert cheap["function invocations"] == pytest.approx(requests * 0.10 / 1e6)  # one function without a router


def test_apis_cognito_monitoring_keys_and_providers_by_hand() -> None:
    plan = _plan(("aws:apigatewayv2/api:Api", "ws", {"name": "ws", "protocolType": "WEBSOCKET"}),
                 ("aws:cognito/userPool:UserPool", "pool", {"name": "pool"}),
                 ("aws:cloudwatch/metricAlarm:MetricAlarm", "a1", {}),
                 ("aws:cloudwatch/metricAlarm:MetricAlarm", "a2", {"metricQueries": [
                     {"metric": {}}, {"metric": {}}, {"expression": "a + b"}]}),
                 ("aws:cloudwatch/dashboard:Dashboard", "d", {}),
                 ("aws:kms/key:Key", "k", {}),
                 ("aws:lambda/function:Function", "w", {"name": "mumble-t-generateImageWorker", "memorySize": 1024,
                                                         "environment": {"variables": {
                                                             "OPENAI_TRANSCRIPTION_MODEL": "gpt-4o-mini-transcribe",
                                                             "OPENAI_IMAGE_MODEL": "gpt-image-1"}}}))
    result = cost.estimate(plan, _usage(active_users=100, recordings_per_user=3, audio_seconds=30,
                                        sessions_per_user=4, websocket_minutes_per_session=5))
    assert _lines(result, "API Gateway") == pytest.approx({
        "WebSocket messages": (400 * 2 + 300 * 4) / 1e6, "WebSocket connection minutes": 400 * 5 * 0.25 / 1e6})
    assert _lines(result, "Cognito") == {"monthly active users": pytest.approx(100 * 0.015)}
    monitoring = _lines(result, "CloudWatch")
    assert monitoring["alarm metrics"] == pytest.approx(3 * 0.10) and monitoring["dashboards"] == 3.00
    assert _lines(result, "KMS") == {"customer-managed key": 1.00}
    assert _lines(result, "OpenAI") == pytest.approx({"transcription (gpt-4o-mini-transcribe)": 300 * 0.5 * 0.003,
                                                     "image generation (gpt-image-1)": 300 * 0.042})
    assert result.total - result.total_without_ai == pytest.approx(300 * 0.5 * 0.003 + 300 * 0.042)


def test_provisioned_concurrency_2_to_0_saves_exactly_its_price() -> None:
    with_pc = run_offline("prod")
    without_pc = run_offline("prod", {**stage_config("prod"), "mumble:provisionedConcurrency": "0"})
    saved = cost.estimate(with_pc, USAGE).total - cost.estimate(without_pc, USAGE).total
    configs = with_pc.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    memory = {f.inputs["name"]: f.inputs["memorySize"] for f in with_pc.of_type("aws:lambda/function:Function")}
    expected = sum(2 * memory[c.inputs["functionName"]] / 1024 * 730 * 3600 * 0.0000033334 for c in configs)
    assert len(configs) == 6 and saved == pytest.approx(expected)


def test_free_tiers_are_a_separate_credit_and_scaling_names_the_fastest_line(capsys) -> None:
    result = cost.estimate(run_offline("dev"), USAGE)
    assert result.free_tier_credit > 0 and all(line.monthly >= 0 for line in result.lines)
    assert cost.main(["--stage", "dev", "--scale", "1,10"]) == 0
    out = capsys.readouterr().out
    assert "free tiers, if the account has them (not subtracted above)" in out
    assert "fastest-growing line: image generation (gpt-image-1)" in out and "EC2 baseline" in out


@pytest.mark.parametrize("content, message", [
    ("active_users: lots\n", "active_users must be a number of at least 0 (got 'lots')"),
    ("active_userz: 10\n", "unknown usage key 'active_userz'"),
    ("- 1\n- 2\n", "must be a mapping of usage keys to numbers"),
    ("viewers_in_asia: 3\n", "viewers_in_asia is a share from 0 to 1"),
    ("active_users: [1\n", "cannot be read as YAML"),
])
def test_a_bad_usage_file_gets_one_clear_line(tmp_path: Path, capsys, content: str, message: str) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(content)
    assert cost.main(["--stage", "dev", "--usage", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
