"""Production mode: gunicorn with production settings (DEBUG off, whitenoise, secure cookies) and the
kiosk scenario in a real browser against it."""

import os
import secrets
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from attendance.models import Record
from tests.conftest import free_port
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production_server(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")},
        "DJANGO_SETTINGS_MODULE": "attendx.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        # Plain HTTP on loopback: the browser says https through the proxy header, as a TLS proxy would.
        "CSRF_TRUSTED_ORIGINS": f"http://localhost:{port}",
        "SQLITE_PATH": str(connection.settings_dict["NAME"]),
        "MONGODB_NAME": str(connection.settings_dict["NAME"]),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEEPFACE_HOME": str(settings.DEEPFACE_HOME),
        "REDIS_URL": settings.REDIS_URL,
        "WEB_CONCURRENCY": "1",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
        )

    check = manage("check", "--deploy", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    collect = manage("collectstatic", "--noinput")
    assert collect.returncode == 0, collect.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        + ["attendx.wsgi:application"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=30)


def test_the_kiosk_works_under_gunicorn_in_production_mode(production_server, browser_with_camera, classroom, kiosk):
    page = browser_with_camera("angelina_jolie/05.jpg", extra_http_headers={"X-Forwarded-Proto": "https"})
    # The tests hash passwords with MD5 for speed; production only knows its real hashers.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        kiosk.set_password(PASSWORD)
        kiosk.save()
    sign_in(page, production_server, kiosk.username, PASSWORD)
    assert page.url.endswith("/attendance/kiosk/")
    stylesheet = page.get_attribute("link[rel=stylesheet]", "href")
    assert stylesheet.startswith("/static/css/app.") and stylesheet != "/static/css/app.css"  # hashed name
    css = page.request.get(production_server + stylesheet)
    assert css.status == 200 and "max-age" in css.headers.get("cache-control", "")
    page.wait_for_selector("#kiosk-result.tone-ok", timeout=30_000)
    assert "Angelina Jolie: checked in at" in page.inner_text("#kiosk-result")
    screenshot(page, "08-production-kiosk")
    assert Record.objects.get().person == classroom.people["angelina_jolie"]
