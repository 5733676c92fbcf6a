"""The web client in a real browser: Debian's Chromium driven by Python Playwright against the local app serving
the built site, the API, config.json and Cognito on one origin (as `make dev` does), with a migrated legacy user.

Chromium's microphone is its fake device fed from a WAV made here; geolocation is granted per context. A missing
browser fails the suite (CI must run it); `make test` installs Debian's `chromium` where it can (root).
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from local.app import DEMO_PASSWORD, LocalApp, LocalAppOptions
from local.legacy_sample import LegacyUser, migrate_sample

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports" / "screenshots"
BEIJING = {"latitude": 39.9042, "longitude": 116.4074}
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-device-for-media-stream"]


def chromium_path() -> str:
    found = os.environ.get("MUMBLE_CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
    if not found:
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium "
                    "fonts-liberation, as root); the browser tests never skip")
    return found


def fake_voice(path: Path, seconds: float = 4.0, rate: int = 16000) -> Path:
    """A WAV Chromium's fake microphone plays in a loop: a tone rising and falling, loud enough to show a level."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            t = i / rate
            amplitude = 0.6 * (0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * t))
            frames += struct.pack("<h", int(32767 * amplitude * math.sin(2 * math.pi * (300 + 200 * t) * t)))
        out.writeframes(bytes(frames))
    return path


@pytest.fixture(scope="session")
def site_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApp]:
    options = LocalAppOptions(stage="site", serve_site=True, retry_delays=(0.2, 0.4),
                              log_dir=tmp_path_factory.mktemp("site-local"),
                              function_timeouts={"generateImageWorker": 20.0})
    with LocalApp(options) as app:
        yield app


@pytest.fixture(scope="session")
def legacy_user(site_app: LocalApp, tmp_path_factory: pytest.TempPathFactory) -> LegacyUser:
    return migrate_sample(site_app.aws, site_app.buckets["media"], work_dir=tmp_path_factory.mktemp("legacy"))


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    audio = fake_voice(tmp_path_factory.mktemp("audio") / "voice.wav")
    with sync_playwright() as playwright:
        browser = _launch(playwright, audio)
        yield browser
        browser.close()


def _launch(playwright: Playwright, audio: Path) -> Browser:
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={audio}"])


@dataclass
class Watched:
    """A page with what went wrong on it: CSP violations, uncaught errors, console errors."""

    page: Page
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)  # WebSocket frames received

    def assert_clean(self) -> None:
        assert self.violations == [], self.violations
        assert self.errors == [], self.errors

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _console(watched: Watched, message: Any) -> None:
    # A 4xx the page expects (a wrong password's 400 from Cognito, a gone image's 404) is logged by Chromium as
    # "Failed to load resource"; what the page does with it is what the tests check.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        watched.errors.append(message.text)


@pytest.fixture
def open_page(browser: Browser, site_app: LocalApp) -> Iterator[Any]:
    contexts: list[BrowserContext] = []
    watched_pages: list[Watched] = []

    def open_page(locale: str = "en-US", microphone: bool = True, viewport: dict[str, int] | None = None,
                  clock: bool = False) -> Watched:
        context = browser.new_context(
            locale=locale, geolocation=BEIJING, viewport=viewport or {"width": 1200, "height": 900},
            permissions=["geolocation", *(["microphone"] if microphone else [])], base_url=site_app.site.url)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)
        watched_pages.append(watched)
        page.expose_function("reportViolation", lambda text: watched.violations.append(text))
        page.add_init_script("document.addEventListener('securitypolicyviolation', (e) => "
                             "window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`));")
        page.on("console", lambda message: _console(watched, message))
        page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
        page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: watched.frames.append(
            frame if isinstance(frame, str) else frame.decode(errors="replace"))))
        if clock:
            page.clock.install()
        return watched

    yield open_page
    for context in contexts:
        context.close()
    for watched in watched_pages:
        watched.assert_clean()


def new_user(app: LocalApp) -> tuple[str, str]:
    email = f"web{uuid.uuid4().hex[:8]}@example.com"
    app.user_pool.create_user(email, DEMO_PASSWORD)
    return email, DEMO_PASSWORD


def sign_in(watched: Watched, email: str, password: str) -> None:
    page = watched.page
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
