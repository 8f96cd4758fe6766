"""The kiosk's feedback in a real browser: the step-closer hint, the next session when none runs, late in
its own colour, several faces as a list that fits a phone."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from attendance.models import Group, Record, Session
from tests.attendance.conftest import make_session
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AMBER = "rgb(255, 244, 229)"  # .tone-late's background in app.css
GREEN = "rgb(230, 244, 234)"  # .tone-ok's


def background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "element => getComputedStyle(element).backgroundColor")


def test_a_frame_without_a_face_shows_the_step_closer_hint(live_server, browser_with_camera, kiosk):
    make_session(Group.objects.create(name="Class 9A"))
    page = browser_with_camera("_none/brick.png")
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.wait_for_selector("#kiosk-result.tone-calm", timeout=30_000)
    assert page.inner_text("#kiosk-result") == "No face found — step closer."
    screenshot(page, "20-kiosk-no-face")


def test_with_no_session_running_the_kiosk_says_what_is_next(live_server, browser_with_camera, kiosk):
    early = settings.ATTENDANCE["CHECK_IN_OPENS_MINUTES_BEFORE"]
    start = timezone.now() + timedelta(minutes=early + 20)
    if timezone.localdate(start) != timezone.localdate():
        pytest.skip("too close to midnight for a session later today")
    group = Group.objects.create(name="Class 9A")
    Session.objects.create(group=group, title="Maths", starts_at=start, ends_at=start + timedelta(hours=1))
    line = f"No session now; next: Maths at {timezone.localtime(start):%H:%M}"
    page = browser_with_camera("_none/brick.png")
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    assert page.inner_text("#kiosk-sessions") == line
    page.wait_for_selector("#kiosk-result.tone-calm", timeout=30_000)
    assert page.inner_text("#kiosk-result") == line
    assert background(page, "#kiosk-result") == "rgb(255, 255, 255)"  # information, not the red of an error
    screenshot(page, "21-kiosk-no-session")


def test_a_late_check_in_is_shown_in_the_late_colour(live_server, browser_with_camera, classroom, kiosk):
    session = classroom.session
    session.starts_at = timezone.now() - timedelta(minutes=session.late_after_minutes + 20)
    session.save()
    page = browser_with_camera("angelina_jolie/05.jpg")
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.wait_for_selector("#kiosk-result.tone-late", timeout=30_000)
    assert page.inner_text("#kiosk-result").endswith(", late")  # in words too, not by colour only
    assert background(page, "#kiosk-result") == AMBER != GREEN
    assert Record.objects.get().status == "late"
    screenshot(page, "22-kiosk-late")


def test_several_faces_are_a_list_that_fits_a_phone(live_server, browser_with_camera, classroom, kiosk):
    page = browser_with_camera("_group/two_people.jpg")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.wait_for_selector("#kiosk-result.tone-list .kiosk-face.tone-ok", timeout=30_000)
    lines = page.locator("#kiosk-result .kiosk-face")
    assert lines.count() == 2
    assert all("checked in at" in text for text in lines.all_inner_texts())
    fits = page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth && [...document.querySelectorAll("
        "'.kiosk-face')].every(line => line.getBoundingClientRect().right <= window.innerWidth)"
    )
    assert fits, "the list pushes the page sideways"
    screenshot(page, "23-kiosk-two-faces-phone")
