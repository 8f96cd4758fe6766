"""What the kiosk is told when there is nothing to mark: no face in the frame, or no session running (and
which one is next today, for this device)."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.devices import issue_token, register_device
from attendance.models import Group, Session
from attendance.services import NoSessionRunning, candidate_sessions
from attendance.views import kiosk_tone
from tests.attendance.conftest import make_session
from tests.conftest import FACES_DIR
from tests.factories import tiny_jpeg

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/check-ins"
KIOSK_PAGE = "/attendance/kiosk/"


def post_frame(client, data: bytes, name="frame.jpg"):
    return client.post(API, {"image": SimpleUploadedFile(name, data, content_type="image/jpeg")})


def later_today(minutes: int) -> datetime:
    """``minutes`` from now, after check-in opens for it; skips the test when that is tomorrow already."""
    early = settings.ATTENDANCE["CHECK_IN_OPENS_MINUTES_BEFORE"]
    start = timezone.now() + timedelta(minutes=early + minutes)
    if timezone.localdate(start) != timezone.localdate():
        pytest.skip("too close to midnight for a session later today")
    return start


def session_at(group, starts_at, *, title, location="Room 7"):
    return Session.objects.create(
        group=group, title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), location=location
    )


def hh_mm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def test_a_frame_without_a_face_says_step_closer(kiosk_client, lesson):
    response = post_frame(kiosk_client, (FACES_DIR / "_none/brick.png").read_bytes(), name="brick.png")
    assert response.status_code == 200
    assert response.json()["faces"] == []
    assert response.json()["message"] == "No face found — step closer."


def test_no_session_now_names_the_next_one_today(kiosk_client):
    group = Group.objects.create(name="Class 8C")
    # Over, and past the hours after its end in which it still takes check-outs.
    make_session(group, started_minutes_ago=360, length_minutes=60, title="Art")
    physics = session_at(group, later_today(40), title="Physics")
    maths = session_at(group, later_today(5), title="Maths")
    response = post_frame(kiosk_client, tiny_jpeg())
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "no_session"
    assert body["detail"] == f"No session now; next: Maths at {hh_mm(maths.starts_at)}"
    assert body["next_session"]["id"] == str(maths.pk) and body["next_session"]["title"] == "Maths"
    maths.refresh_from_db()  # as stored: MongoDB keeps milliseconds
    assert datetime.fromisoformat(body["next_session"]["starts_at"]) == maths.starts_at
    assert physics.starts_at > maths.starts_at


def test_no_session_now_and_none_later_today(kiosk_client):
    group = Group.objects.create(name="Class 8C")
    tomorrow = timezone.localtime() + timedelta(days=1)
    session_at(group, tomorrow.replace(hour=9, minute=0), title="Maths")
    response = post_frame(kiosk_client, tiny_jpeg())
    assert response.status_code == 409
    assert response.json() == {
        "error": "no_session",
        "detail": "No session now; none later today",
        "next_session": None,
    }


def test_a_device_is_told_its_own_next_session(kiosk_client):
    """Another group's session comes first; the device that serves one group hears of its group's."""
    ours, theirs = Group.objects.create(name="Class 8C"), Group.objects.create(name="Class 9A")
    session_at(theirs, later_today(5), title="Chemistry")
    biology = session_at(ours, later_today(30), title="Biology")
    device = register_device(name="Lab door", groups=[ours])
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(device=device).secret}")
    response = post_frame(bearer, tiny_jpeg())
    assert response.status_code == 409
    assert response.json()["next_session"]["id"] == str(biology.pk)
    assert response.json()["detail"] == f"No session now; next: Biology at {hh_mm(biology.starts_at)}"
    # A device serving every group (no groups chosen) is told of the first one.
    assert post_frame(kiosk_client, tiny_jpeg()).json()["next_session"]["title"] == "Chemistry"


def test_the_next_session_is_that_days_at_the_location_given():
    """At a fixed moment: later the same local day only, at the location asked for, never one running (nor
    one that ended within CHECK_OUT_HOURS_AFTER_END, which still takes check-outs)."""
    group = Group.objects.create(name="Class 8C")
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.get_current_timezone())
    session_at(group, nine + timedelta(hours=1), title="Maths", location="Room 7")
    history = session_at(group, nine + timedelta(hours=2), title="History", location="Hall")
    session_at(group, nine + timedelta(days=1), title="Tomorrow", location="Hall")
    with pytest.raises(NoSessionRunning) as raised:
        candidate_sessions(device=None, session=None, moment=nine, location="Hall")
    assert raised.value.next_session == history
    with pytest.raises(NoSessionRunning) as raised:
        candidate_sessions(device=None, session=None, moment=nine + timedelta(hours=8), location="Hall")
    assert raised.value.next_session is None
    assert raised.value.message == "No session now; none later today"


def test_the_staff_kiosk_page_says_what_is_next(client, staff):
    group = Group.objects.create(name="Class 8C")
    maths = session_at(group, later_today(10), title="Maths")
    client.force_login(staff)
    page = client.get(KIOSK_PAGE)
    assert page.status_code == 200
    assert f"No session now; next: Maths at {hh_mm(maths.starts_at)}" in page.content.decode()
    assert "kiosk-no-session" in page.content.decode()
    # The photo upload answers the same, calmly (not as an error).
    upload = client.post(KIOSK_PAGE, {"image": SimpleUploadedFile("f.jpg", tiny_jpeg(), content_type="image/jpeg")})
    assert upload.status_code == 409
    assert 'class="kiosk-result tone-calm"' in upload.content.decode()


def test_the_staff_kiosk_page_lists_the_sessions_running(client, staff, lesson):
    client.force_login(staff)
    page = client.get(KIOSK_PAGE).content.decode()
    assert f"{lesson.title} · {lesson.group}" in page and "No session now" not in page


@pytest.mark.parametrize(
    ("face", "tone"),
    [
        ({"result": "checked_in", "record": {"status": "present"}}, "ok"),
        ({"result": "checked_in", "record": {"status": "late"}}, "late"),
        ({"result": "already_checked_in", "record": {"status": "late"}}, "info"),
        ({"result": "checked_out", "record": {"status": "present"}}, "out"),
        ({"result": "review"}, "unsure"),
        ({"result": "unknown"}, "unsure"),
        ({"result": "agreeing"}, "idle"),
    ],
)
def test_each_result_has_its_own_tone(face, tone):
    assert kiosk_tone(face) == tone
