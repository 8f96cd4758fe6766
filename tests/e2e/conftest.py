"""A real browser: Debian's chromium driven by Playwright, with a fake webcam showing a real photo.

The webcam clip is a one-frame Y4M made by ffmpeg from a photo in the shared folder; Chromium loops
it. Screenshots of every page go to test-results/e2e/ for people to look at.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.attendance.conftest import classroom, enrolled_people  # noqa: F401 - shared fixtures
from tests.conftest import FACES_DIR

CHROMIUM = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-results" / "e2e"


def webcam_clip(photo: str, folder: Path) -> Path:
    """A 640x480 one-frame Y4M clip of ``photo`` for --use-file-for-fake-video-capture."""
    clip = folder / (photo.replace("/", "_") + ".y4m")
    if not clip.exists():
        subprocess.run(
            [
                shutil.which("ffmpeg") or "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(FACES_DIR / photo),
                "-frames:v",
                "1",
                "-vf",
                "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
                "-f",
                "yuv4mpegpipe",
                str(clip),
            ],
            check=True,
        )
    return clip


@pytest.fixture(scope="module")
def playwright_driver():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `make test` installs the Debian package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' ORM calls stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def browser_with_camera(playwright_driver, tmp_path_factory):
    """``open(photo)`` launches Chromium whose webcam shows ``photo``; every browser is closed after."""
    clips = tmp_path_factory.mktemp("webcam")
    browsers = []

    def open_browser(photo: str, **context_options):
        browser = playwright_driver.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={webcam_clip(photo, clips)}",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        browsers.append(browser)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, **context_options)
        context.set_default_timeout(20_000)
        return context.new_page()

    yield open_browser
    for browser in browsers:
        browser.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base_url: str, username: str, password: str):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
