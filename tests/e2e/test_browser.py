"""The product as people use it: a browser with a camera, against the live app."""

import csv
import io

import pytest

from accounts.models import Role
from attendance.models import Record
from attendance.services import mark_manually
from faces.models import FaceSample
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rose(classroom):
    """A class member who has not enrolled her face yet."""
    person = UserFactory(username="rose", first_name="Rose", last_name="Leslie", role=Role.MEMBER)
    classroom.group.members.add(person)
    return person


def test_a_member_enrolls_by_webcam_and_the_kiosk_checks_her_in(live_server, browser_with_camera, rose, kiosk):
    page = browser_with_camera("rose_leslie/01.jpg")
    sign_in(page, live_server.url, rose.username, PASSWORD)
    page.goto(f"{live_server.url}/faces/enroll/")
    page.wait_for_selector("#capture-button:not([disabled])")
    page.wait_for_timeout(500)  # let a few frames play
    screenshot(page, "01-enroll-webcam")
    page.click("#capture-button")
    page.wait_for_selector("text=1 photo enrolled")
    screenshot(page, "02-enroll-done")
    sample = FaceSample.objects.get(person=rose)
    assert sample.source == "webcam"

    kiosk_page = browser_with_camera("rose_leslie/02.jpg")
    sign_in(kiosk_page, live_server.url, kiosk.username, PASSWORD)
    assert kiosk_page.url.endswith("/attendance/kiosk/")
    kiosk_page.wait_for_selector("#kiosk-result.tone-ok", timeout=30_000)
    message = kiosk_page.inner_text("#kiosk-result")
    assert "Rose Leslie: checked in at" in message
    screenshot(kiosk_page, "03-kiosk-checked-in")
    record = Record.objects.get(person=rose)
    assert record.method == "face" and record.device == kiosk


def test_the_kiosk_says_not_recognised_to_a_stranger(live_server, browser_with_camera, classroom, kiosk):
    page = browser_with_camera("steve_carell/01.jpg")
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.wait_for_selector("#kiosk-result.tone-unsure", timeout=30_000)  # grey: unknown is not an error
    assert page.inner_text("#kiosk-result") == "Not recognised."
    screenshot(page, "04-kiosk-stranger")
    assert not Record.objects.exists()


def test_staff_see_the_mark_on_the_roster_and_export_it(live_server, browser_with_camera, classroom, staff, kiosk):
    angelina = classroom.people["angelina_jolie"]
    mark_manually(session=classroom.session, person=angelina, status="present", by=staff)
    page = browser_with_camera("_none/brick.png")
    sign_in(page, live_server.url, staff.username, PASSWORD)
    screenshot(page, "05-staff-dashboard")
    page.goto(f"{live_server.url}/attendance/")
    screenshot(page, "06-sessions-today")
    page.click(f"text={classroom.session.title}")
    row = page.locator("tr[data-person=angelina_jolie]")
    assert "present" in row.inner_text()
    screenshot(page, "07-roster")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert {row["username"]: row["status"] for row in rows}["angelina_jolie"] == "present"
    assert len(rows) == len(classroom.group.members.all())


@pytest.mark.liveness
def test_the_kiosk_asks_a_still_photo_to_move_and_marks_nobody(
    live_server, browser_with_camera, classroom, kiosk, settings
):
    from attendance.models import NotLiveAttempt
    from faces.liveness import CHALLENGES

    settings.ATTENDANCE = {**settings.ATTENDANCE, "LIVENESS_CHALLENGE_SECONDS": 2}
    page = browser_with_camera("angelina_jolie/05.jpg")  # enrolled, in the class: recognised, but a photo
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.wait_for_selector("#kiosk-prompt:not([hidden])", timeout=30_000)
    assert page.inner_text("#kiosk-prompt") in CHALLENGES.values()
    screenshot(page, "08-kiosk-challenge")
    for _ in range(100):  # the challenge runs out: the attempt is kept for staff, and a new one is asked
        if NotLiveAttempt.objects.exists():
            break
        page.wait_for_timeout(100)
    assert NotLiveAttempt.objects.get().candidate == classroom.people["angelina_jolie"]
    assert not Record.objects.exists()
