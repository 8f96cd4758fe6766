"""Production mode: gunicorn with production settings (DEBUG off, whitenoise, secure cookies) and the
kiosk scenario in a real browser against it."""

import pytest
from django.test import override_settings

from attendance.models import Record
from tests.e2e.conftest import gunicorn_in_production, screenshot, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production_server(tmp_path):
    with gunicorn_in_production(tmp_path, check_deploy=True, extra_env={"WEB_CONCURRENCY": "1"}) as base:
        yield base


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
