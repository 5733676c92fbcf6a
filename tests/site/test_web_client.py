"""What a Mumble user does, in Chromium, against the local stack (see conftest.py)."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from local.app import LocalApp
from local.legacy_sample import LegacyUser
from rehearsal.site import INLINE_SCRIPT
from tests.site.conftest import Watched, new_user, sign_in

pytestmark = pytest.mark.slow
FIRST_JOB_S = 120_000  # ms: the first flow cold-starts every function it touches


def _signed_in(watched: Watched) -> None:
    expect(watched.page.get_by_role("button", name="Sign out")).to_be_visible(timeout=30_000)


def _objects_of(app: LocalApp, image_id: str) -> list[str]:
    item = app.aws.client("dynamodb").query(
        TableName=app.tables["images"], KeyConditionExpression="imageId = :i",
        ExpressionAttributeValues={":i": {"S": image_id}})["Items"][0]
    return [item[key]["S"] for key in ("imageKey", "thumbnailKey", "audioKey") if key in item]


def _exists(app: LocalApp, key: str) -> bool:
    listed = app.aws.client("s3").list_objects_v2(Bucket=app.buckets["media"], Prefix=key)
    return any(entry["Key"] == key for entry in listed.get("Contents", []))


def test_record_upload_generate_see_it_arrive_browse_and_delete(site_app: LocalApp, open_page) -> None:
    watched = open_page()
    page = watched.page
    email, password = new_user(site_app)
    sign_in(watched, email, password)
    _signed_in(watched)
    watched.shot("create")

    page.get_by_role("button", name="Record").click()
    expect(page.get_by_text(re.compile(r"Recording: \d+ s"))).to_be_visible()
    page.wait_for_timeout(2200)
    level = page.get_by_label("Microphone level").evaluate("meter => meter.value")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(re.compile(r"Clip recorded: 2\.\d s"))).to_be_visible()
    page.get_by_role("button", name="Generate").first.click()

    result = page.get_by_role("heading", name="Your picture")
    expect(result).to_be_visible(timeout=FIRST_JOB_S)
    pushed = [json.loads(frame) for frame in watched.frames if '"type"' in frame]
    assert any(m.get("type") == "job" and m.get("status") == "succeeded" for m in pushed), watched.frames
    article = page.locator("article.result")
    expect(article.locator(".transcription")).to_contain_text("A short recording of")
    expect(article.locator(".weather")).to_contain_text("°C")
    image = article.get_by_role("img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert level > 0, "the level meter showed nothing while the fake microphone played"
    watched.shot("result")

    article.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(r"/images/[0-9a-f]+$"))
    image_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Picture")).to_be_visible()
    site_app.settle()  # the thumbnail is made by imageProcessor on the S3 event
    keys = _objects_of(site_app, image_id)
    assert len(keys) == 3 and all(_exists(site_app, key) for key in keys), keys

    page.get_by_role("navigation").get_by_role("link", name="Gallery").click()
    first = page.locator("ul.grid li").first
    expect(first.get_by_role("img")).to_be_visible()
    assert image_id in first.get_by_role("link").get_attribute("href")
    watched.shot("gallery")

    first.get_by_role("link").click()
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete this picture for good?")
    watched.shot("delete-confirm")
    dialog.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))
    expect(page.get_by_text("No pictures yet")).to_be_visible()
    assert not any(_exists(site_app, key) for key in keys)
    page.goto(f"/images/{image_id}")
    expect(page.get_by_role("alert")).to_contain_text("does not exist")


def test_a_legacy_user_signs_in_with_their_old_password_and_sees_their_migrated_gallery(
        site_app: LocalApp, legacy_user: LegacyUser, open_page) -> None:
    migrated = site_app.aws.client("dynamodb").query(
        TableName=site_app.tables["images"], IndexName="UserIndex", Select="COUNT",
        KeyConditionExpression="userId = :u", ExpressionAttributeValues={":u": {"S": legacy_user.user_id}})["Count"]
    assert migrated > 12  # more than one page: the infinite scroll follows the signed cursor
    before = site_app.cognito_front.migrations
    watched = open_page()
    page = watched.page
    sign_in(watched, legacy_user.email, "not-their-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    page.get_by_label("Password").fill(legacy_user.password)
    page.get_by_role("button", name="Sign in").click()
    _signed_in(watched)
    assert site_app.cognito_front.migrations == before + 1
    page.get_by_role("navigation").get_by_role("link", name="Gallery").click()
    end = page.get_by_text("That is everything.")
    deadline = time.monotonic() + 60
    while not end.is_visible() and time.monotonic() < deadline:  # infinite scroll, page by page
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(300)
    expect(end).to_be_visible()
    expect(page.locator("ul.grid li")).to_have_count(migrated)
    watched.shot("legacy-gallery")


def test_microphone_denied_offers_the_text_prompt_and_a_failed_job_shows_its_reason(
        site_app: LocalApp, open_page) -> None:
    watched = open_page(microphone=False)
    page = watched.page
    sign_in(watched, *new_user(site_app))
    _signed_in(watched)
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("alert")).to_contain_text("The microphone is not available")

    page.get_by_label("What should the picture show?").fill("a red kite over the Great Wall")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("heading", name="Your picture")).to_be_visible(timeout=FIRST_JOB_S)
    expect(page.locator("article.result .transcription")).to_have_text("a red kite over the Great Wall")

    site_app.openai.fail("/v1/images/generations", 400, times=50)
    try:
        page.get_by_role("button", name="Make another").click()
        page.get_by_label("What should the picture show?").fill("this one will fail")
        page.get_by_role("button", name="Generate").click()
        failed = page.get_by_role("alert").filter(has_text="The picture could not be made:")
        expect(failed).to_contain_text("image generation", timeout=60_000)
        watched.shot("job-failed")
    finally:
        site_app.openai.reset()


def test_sessions_renew_with_the_refresh_token_and_a_revoked_one_returns_to_sign_in(
        site_app: LocalApp, open_page) -> None:
    watched = open_page(clock=True)
    page = watched.page
    email, password = new_user(site_app)
    sign_in(watched, email, password)
    _signed_in(watched)
    refreshes: list[str] = []
    page.on("request", lambda request: "REFRESH_TOKEN_AUTH" in (request.post_data or "") and refreshes.append(
        request.url))

    page.clock.fast_forward("02:00:00")  # the id token (one hour) has expired
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    expect(page.get_by_label("Display name")).to_be_visible()
    assert refreshes, "the expired id token was not renewed"
    with page.expect_websocket():  # a reload keeps the session: the refresh token survives in localStorage
        page.reload()
    _signed_in(watched)
    # The page's effects have run (the socket is open, the profile loaded) before the session is revoked, so the
    # click below is what meets the revoked session, not an effect that happened to run after the clock jumped.
    expect(page.get_by_label("Display name")).to_be_visible()

    site_app.aws.client("cognito-idp").admin_user_global_sign_out(UserPoolId=site_app.user_pool.pool_id,
                                                                  Username=email)
    page.clock.fast_forward("02:00:00")
    page.get_by_role("navigation").get_by_role("link", name="Gallery").click()
    expect(page.get_by_role("alert")).to_have_text("Your session has ended. Please sign in again.")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_chinese_first_english_on_demand_profile_weather_and_a_phone_screen(
        site_app: LocalApp, open_page) -> None:
    watched = open_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = watched.page
    page.goto("/")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    watched.shot("sign-in-zh")
    email, password = new_user(site_app)
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="天气").click()
    page.get_by_role("button", name="查看当地天气").click()
    expect(page.locator(".weather-card")).to_contain_text("°C")
    watched.shot("weather-phone")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), "sideways scrolling"

    page.get_by_label("语言").select_option("en")
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    page.get_by_label("Display name").fill("小明 Ming")
    page.get_by_label("City").fill("北京")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    page.reload()
    expect(page.get_by_label("Display name")).to_have_value("小明 Ming")
    expect(page.get_by_label("City")).to_have_value("北京")
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea, button')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert unlabelled == []


def test_the_site_is_served_as_cloudfront_serves_it(site_app: LocalApp) -> None:
    import requests

    from functions.site_spec import IMMUTABLE

    index = requests.get(site_app.site.url + "/gallery", timeout=10)  # a client route: the SPA fallback
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-cache"
    csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script" in index.text and not INLINE_SCRIPT.search(index.text)
    asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text).group(1)
    assert re.search(r"-[0-9a-f]{8,}\.js$", asset)
    assert requests.get(site_app.site.url + asset, timeout=10).headers["Cache-Control"] == IMMUTABLE
    config = requests.get(site_app.site.url + "/config.json", timeout=10)
    assert config.headers["Cache-Control"] == "no-cache"
    assert config.json()["apiBase"] == "/api/v1"
    assert requests.get(site_app.site.url + "/api/v1/health", timeout=10).json()["status"] == "healthy"
    assert requests.get(site_app.site.url + "/assets/missing-0123abcd.js", timeout=10).status_code == 404


def test_sign_up_with_an_email_code_then_forgot_password(site_app: LocalApp, open_page) -> None:
    watched = open_page()
    page = watched.page
    email = f"new{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/")
    page.get_by_role("button", name="Create an account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()  # the browser's own check (minLength) stops it
    assert page.get_by_label("Password").evaluate("input => !input.validity.valid")
    page.get_by_label("Password").fill("Brand-new-2026")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(email)
    page.get_by_role("button", name="I have an account").click()  # signing in before confirming: told what to do
    page.get_by_label("Password").fill("Brand-new-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not confirmed")
    page.get_by_label("Confirmation code").fill("123456")  # moto accepts any code; Cognito emails a real one
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Email confirmed. Sign in now.")

    page.get_by_role("button", name="Forgot password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send a code").click()
    page.get_by_label("Confirmation code").fill("654321")
    page.get_by_label("New password").fill("Another-pass-2027")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    page.get_by_label("Password").fill("Another-pass-2027")
    page.get_by_role("button", name="Sign in").click()
    _signed_in(watched)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    page.reload()  # the refresh token went with the sign-out
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_without_the_websocket_the_job_still_arrives_by_polling(site_app: LocalApp, open_page) -> None:
    watched = open_page()
    page = watched.page
    page.route_web_socket(re.compile(r"^ws://"), lambda socket: socket.close())  # a proxy that drops WebSockets
    sign_in(watched, *new_user(site_app))
    _signed_in(watched)
    page.get_by_label("What should the picture show?").fill("a paper boat on the Li River")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("checking every few seconds")).to_be_visible()
    expect(page.get_by_role("heading", name="Your picture")).to_be_visible(timeout=FIRST_JOB_S)
    assert not any('"type"' in frame for frame in watched.frames)
