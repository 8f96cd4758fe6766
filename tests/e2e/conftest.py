"""A real browser: Debian's chromium through pytest-playwright's fixtures, with a fake webcam showing a real photo.

The webcam clip is a one-second Y4M made by ffmpeg from a photo in the shared folder, with the temporal
noise of a camera sensor (no two frames are the same bytes, as with a real webcam); Chromium loops
it. Screenshots of every page go to test-results/e2e/ for people to look at; pytest-playwright's own
--screenshot/--tracing/--video apply to its ``page`` fixture and write to test-results/playwright/.
"""

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from faces.crypto import configured_keys
from tests.attendance.conftest import classroom, enrolled_people  # noqa: F401 - shared fixtures
from tests.conftest import FACES_DIR, free_port

CHROMIUM = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_TIMEOUT_MS = 20_000
SCREENSHOTS = Path(settings.BASE_DIR) / "test-results" / "e2e"
# Each webcam browser is an idle Chromium (about 130 MB): the few last used stay open for the next tests.
WEBCAM_BROWSERS_KEPT = 3


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The browser tests run last, after pytest-django's reordering. pytest-playwright's driver lives from the
    first of them to the end of the session, with an event loop marked running in this thread all along
    (see ``playwright``): no other test should run beside it."""
    items.sort(key=lambda item: "playwright" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def playwright(playwright):
    """pytest-playwright's driver. Its sync API keeps an event loop running in the test thread, and Django
    refuses ORM calls wherever a loop runs (SynchronousOnlyOperation); the tests' ORM calls, and pytest-django's
    flushes, are synchronous all the same, so the check is off while the driver lives, for the browser tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield playwright


@pytest.fixture(scope="session")
def base_url():
    """None: each test names the server it visits (live_server, or gunicorn in production mode). This also
    keeps pytest-playwright's own fallback, a method fixture that pytest 9 deprecates, from running."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `make test` installs the Debian package")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "accept_downloads": True}


@pytest.fixture
def context(context):
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


def webcam_clip(photo: str, folder: Path) -> Path:
    """A 640x480 one-second (25 frames) Y4M clip of ``photo``, with sensor-like noise, for
    --use-file-for-fake-video-capture."""
    clip = folder / (photo.replace("/", "_") + ".y4m")
    if not clip.exists():
        subprocess.run(
            [
                shutil.which("ffmpeg") or "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-loop",
                "1",
                "-i",
                str(FACES_DIR / photo),
                "-frames:v",
                "25",
                "-vf",
                "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,"
                "noise=alls=4:allf=t,format=yuv420p",
                "-f",
                "yuv4mpegpipe",
                str(clip),
            ],
            check=True,
        )
    return clip


class WebcamBrowsers:
    """Chromium browsers whose webcam shows a photo. Chromium takes its fake camera at launch, for all its
    pages, so there is one launch per photo; tests showing the same photo share it, each in its own context."""

    def __init__(self, launch: Callable, clips: Path, kept: int):
        self.launch, self.clips, self.kept = launch, clips, kept
        self.open = OrderedDict()  # photo -> Browser, the least recently used first

    def showing(self, photo: str):
        if photo not in self.open or not self.open[photo].is_connected():  # a crashed Chromium is launched again
            clip = webcam_clip(photo, self.clips)
            self.open[photo] = self.launch(
                args=[
                    *CHROMIUM_FLAGS,
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={clip}",
                ]
            )
        self.open.move_to_end(photo)
        return self.open[photo]

    def close_all_but_recent(self):
        while len(self.open) > self.kept:
            self.open.popitem(last=False)[1].close()

    def close(self):
        while self.open:
            self.open.popitem()[1].close()


@pytest.fixture(scope="session")
def webcam_browsers(browser_type, browser_type_launch_args, tmp_path_factory):
    browsers = WebcamBrowsers(
        lambda **options: browser_type.launch(**{**browser_type_launch_args, **options}),
        tmp_path_factory.mktemp("webcam"),
        WEBCAM_BROWSERS_KEPT,
    )
    yield browsers
    browsers.close()


@pytest.fixture
def browser_with_camera(webcam_browsers, browser_context_args):
    """``open(photo, **context_options)``: a page in a new context of a Chromium whose webcam shows ``photo``;
    the contexts are closed after the test."""
    contexts = []

    def open_page(photo: str, **context_options):
        context = webcam_browsers.showing(photo).new_context(**{**browser_context_args, **context_options})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    webcam_browsers.close_all_but_recent()


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


@contextmanager
def gunicorn_in_production(tmp_path: Path, *, check_deploy: bool = False, extra_env: dict | None = None):
    """gunicorn with gunicorn.conf.py and production settings (DEBUG off, whitenoise, secure cookies) on
    this test's database; yields the base URL (http://localhost:PORT). Its log is tmp_path/gunicorn.log.

    Plain HTTP on loopback: clients say https through X-Forwarded-Proto, as a TLS proxy would.
    """
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")},
        "DJANGO_SETTINGS_MODULE": "attendx.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": f"http://localhost:{port}",
        "SQLITE_PATH": str(connection.settings_dict["NAME"]),
        "MONGODB_NAME": str(connection.settings_dict["NAME"]),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEEPFACE_HOME": str(settings.DEEPFACE_HOME),
        "REDIS_URL": settings.REDIS_URL,
        # Production has no key file: it gets the test's keys, which encrypted the faces enrolled here.
        "FACES_ENCRYPTION_KEYS": ",".join(key.decode() for key in configured_keys()),
        # The test's liveness mode (off unless the test is marked `liveness`): still photos are never live.
        "ATTENDANCE_LIVENESS": settings.ATTENDANCE["LIVENESS"],
        **(extra_env or {}),
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
        )

    if check_deploy:
        check = manage("check", "--deploy", "--fail-level", "WARNING")
        assert check.returncode == 0, check.stdout + check.stderr
    collect = manage("collectstatic", "--noinput")
    assert collect.returncode == 0, collect.stderr
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        + ["attendx.wsgi:application"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def sign_in_over_http(base: str, user) -> dict[str, str]:
    """The session and CSRF cookies of ``user`` signed in through the login form of a production server."""
    import requests
    from django.test import override_settings

    from tests.factories import PASSWORD

    # The tests hash passwords with MD5 for speed; production only knows its real hashers.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user.set_password(PASSWORD)
        user.save()
    headers = {"X-Forwarded-Proto": "https", "Origin": base}
    # The cookies are Secure: requests would not send them back over plain HTTP, so they are passed by hand.
    page = requests.get(f"{base}/accounts/login/", headers=headers, timeout=10)
    token = page.cookies["csrftoken"]
    form = {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    answer = requests.post(
        f"{base}/accounts/login/",
        data=form,
        headers=headers,
        cookies={"csrftoken": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    return {"sessionid": answer.cookies["sessionid"], "csrftoken": token}
