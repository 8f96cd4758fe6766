"""Check-out by a second scan (face, PIN) and the time worked: real photos, a real Redis and database."""

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from attendance import agreement, fallback
from attendance.models import Change, Group, Method, Record, RecordChange, Session, Status
from attendance.outcomes import Result, api_answer
from attendance.selectors import worked_hours
from attendance.services import NoSessionRunning, check_in_by_face, mark_manually
from attendx.cache import get_redis_client
from faces.uploads import decode_upload
from tests.attendance.conftest import make_session
from tests.conftest import run_together
from tests.faces import variants
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/check-ins"
AMY = "amy_adams/01.jpg"


def burst(shared_photos, name=AMY):
    return [decode_upload(frame, frame=True) for frame in variants.burst(shared_photos[name].data)]


def scan(shared_photos, device, moment, **options):
    [face] = check_in_by_face(frames=burst(shared_photos), device=device, moment=moment, **options).faces
    return face


def forget_frames():
    """A later scan: the frames of the first are no longer there to agree with."""
    agreement.forget_local()
    get_redis_client().clear_pattern("agree:*")


@pytest.fixture
def workday(classroom):
    """The class's session is a ten-hour shift that began five minutes ago."""
    Session.objects.filter(pk=classroom.session.pk).update(ends_at=classroom.session.starts_at + timedelta(hours=10))
    classroom.session.refresh_from_db()
    return classroom


def whole_second():
    """Now, to the second: MongoDB keeps milliseconds only."""
    return timezone.now().replace(microsecond=0)


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def test_a_second_scan_within_the_gap_is_already_checked_in(kiosk_client, classroom, shared_photos):
    frames = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(shared_photos[AMY].data))]
    assert kiosk_client.post(API, {"image": frames}).status_code == 201
    frames = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(shared_photos[AMY].data))]
    again = kiosk_client.post(API, {"image": frames})
    assert again.status_code == 200
    [face] = again.json()["faces"]
    assert face["result"] == "already_checked_in" and "already checked in at" in face["message"]
    assert face["record"]["checked_out_at"] is None
    assert Record.objects.get().checked_out_at is None
    assert not RecordChange.objects.filter(action=Change.CHECKED_OUT).exists()


def test_a_scan_after_the_gap_checks_out_through_the_api(kiosk_client, kiosk, classroom, shared_photos):
    frames = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(shared_photos[AMY].data))]
    assert kiosk_client.post(API, {"image": frames}).status_code == 201
    arrived = timezone.now() - timedelta(minutes=31)
    Record.objects.update(marked_at=arrived)  # she came 31 minutes ago
    forget_frames()
    frames = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(shared_photos[AMY].data))]
    response = kiosk_client.post(API, {"image": frames})
    assert response.status_code == 201
    [face] = response.json()["faces"]
    record = Record.objects.get()
    assert face["result"] == "checked_out" and face["record"]["checked_out_at"] == record.checked_out_at.isoformat()
    assert face["message"] == f"Amy Adams: checked out at {local(record.checked_out_at)}, 31 min"
    [change] = RecordChange.objects.filter(action=Change.CHECKED_OUT)
    assert change.by == kiosk and change.person == record.person and change.status == Status.PRESENT


def test_worked_minutes_and_then_already_checked_out(kiosk, workday, shared_photos):
    start = whole_second()
    assert scan(shared_photos, kiosk, start).result is Result.CHECKED_IN
    forget_frames()
    out = check_in_by_face(frames=burst(shared_photos), device=kiosk, moment=start + timedelta(hours=8, minutes=2))
    [face] = out.faces
    assert face.result is Result.CHECKED_OUT and api_answer(out)[0] == 201
    assert face.message == f"Amy Adams: checked out at {local(start + timedelta(hours=8, minutes=2))}, 8 h 2 min"
    record = Record.objects.get()
    assert record.checked_out_at == start + timedelta(hours=8, minutes=2) and record.marked_at == start
    forget_frames()
    later = scan(shared_photos, kiosk, start + timedelta(hours=9))
    assert later.result is Result.ALREADY and later.message.startswith("Amy Adams: already checked out at")
    assert Record.objects.get().checked_out_at == record.checked_out_at
    assert RecordChange.objects.filter(action=Change.CHECKED_OUT).count() == 1


def test_a_check_out_needs_frames_to_agree(kiosk, workday, shared_photos):
    start = whole_second()
    scan(shared_photos, kiosk, start)
    forget_frames()
    [one_frame] = burst(shared_photos)[:1]
    [face] = check_in_by_face(frames=[one_frame], device=kiosk, moment=start + timedelta(hours=1)).faces
    assert face.result is Result.AGREEING
    assert Record.objects.get().checked_out_at is None


def test_a_challenge_comes_before_a_check_out(kiosk, staff, workday, shared_photos):
    kiosk.liveness = "challenge"
    kiosk.save()
    mark_manually(session=workday.session, person=workday.people["amy_adams"], status="present", by=staff)
    face = scan(shared_photos, kiosk, timezone.now() + timedelta(hours=1))
    assert face.result is Result.CHALLENGE
    assert Record.objects.get().checked_out_at is None


def test_school_mode_leaving_early_and_after_the_end(kiosk, classroom, shared_photos, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_OUT_MODE": "school"}
    session, start = classroom.session, whole_second()
    scan(shared_photos, kiosk, start)
    forget_frames()
    left = start + timedelta(minutes=40)  # the lesson ends 55 minutes after the first scan
    face = scan(shared_photos, kiosk, left)
    assert face.result is Result.CHECKED_OUT and face.message == f"Amy Adams: left early at {local(left)}"

    joe = classroom.people["joe_biden"]
    Record.objects.create(session=session, person=joe, status=Status.PRESENT, marked_at=start, method=Method.FACE)
    forget_frames()
    after_end = session.ends_at + timedelta(minutes=5)
    frames = burst(shared_photos, "joe_biden/02.jpg")
    [face] = check_in_by_face(frames=frames, device=kiosk, moment=after_end, session=session).faces
    assert face.result is Result.ALREADY and "already checked in at" in face.message
    assert Record.objects.get(person=joe).checked_out_at is None


def test_after_a_shift_ends_a_workplace_scan_checks_out_but_never_marks_an_arrival(kiosk, classroom, shared_photos):
    """Without a session named: people leave after the end, within CHECK_OUT_HOURS_AFTER_END (4 h)."""
    session, start = classroom.session, whole_second()
    scan(shared_photos, kiosk, start)
    forget_frames()
    after_end = (session.ends_at + timedelta(minutes=20)).replace(microsecond=0)  # MongoDB keeps milliseconds
    face = scan(shared_photos, kiosk, after_end)
    assert face.result is Result.CHECKED_OUT
    assert Record.objects.get().checked_out_at == after_end

    forget_frames()
    frames = burst(shared_photos, "joe_biden/02.jpg")  # in the class, never came
    [face] = check_in_by_face(frames=frames, device=kiosk, moment=after_end).faces
    assert face.result is Result.ENDED
    assert face.message == "Joe Biden: the session has ended, there is nothing to check out."
    assert not Record.objects.filter(person=classroom.people["joe_biden"]).exists()

    forget_frames()
    with pytest.raises(NoSessionRunning):
        check_in_by_face(frames=frames, device=kiosk, moment=session.ends_at + timedelta(hours=4, minutes=1))


def test_in_school_mode_an_ended_lesson_takes_no_scan_at_all(kiosk, classroom, shared_photos, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_OUT_MODE": "school"}
    scan(shared_photos, kiosk, whole_second())
    forget_frames()
    with pytest.raises(NoSessionRunning):
        after_end = classroom.session.ends_at + timedelta(minutes=5)
        check_in_by_face(frames=burst(shared_photos), device=kiosk, moment=after_end)
    assert Record.objects.get().checked_out_at is None


def test_with_check_out_off_a_second_scan_changes_nothing(kiosk, workday, shared_photos, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_OUT_MODE": "off"}
    start = whole_second()
    scan(shared_photos, kiosk, start)
    forget_frames()
    assert scan(shared_photos, kiosk, start + timedelta(hours=2)).result is Result.ALREADY
    assert Record.objects.get().checked_out_at is None


def test_an_ip_camera_seeing_someone_again_does_not_check_them_out(kiosk, workday, shared_photos):
    start = whole_second()
    scan(shared_photos, kiosk, start)
    forget_frames()
    face = scan(shared_photos, kiosk, start + timedelta(hours=2), method=Method.CAMERA)
    assert face.result is Result.ALREADY
    assert Record.objects.get().checked_out_at is None


def test_two_kiosks_checking_out_the_same_person_check_out_once(workday, shared_photos, user_factory):
    devices = [user_factory(role="kiosk"), user_factory(role="kiosk")]
    start = whole_second()
    scan(shared_photos, devices[0], start)
    forget_frames()
    frames = burst(shared_photos)
    moment = start + timedelta(hours=3)
    results = run_together(
        *[lambda d=d: check_in_by_face(frames=frames, device=d, moment=moment).faces[0].result for d in devices]
    )
    assert sorted(results) == sorted([Result.CHECKED_OUT, Result.ALREADY]), results
    assert RecordChange.objects.filter(action=Change.CHECKED_OUT).count() == 1
    assert Record.objects.get().checked_out_at == moment


@pytest.fixture
def ada(db):
    person = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    group = Group.objects.create(name="Night shift")
    group.members.set([person])
    fallback.set_pin(person=person, pin="4821", by=None)
    return SimpleNamespace(person=person, session=make_session(group, length_minutes=600))


def pin(client):
    return client.post("/api/v1/check-ins/pin", {"login": "ada", "pin": "4821"}, content_type="application/json")


def test_a_pin_follows_the_same_second_scan_rule(kiosk, kiosk_client, ada):
    start = whole_second()
    first = fallback.check_in_by_pin(device=kiosk, login="ada", pin="4821", moment=start)
    within = fallback.check_in_by_pin(device=kiosk, login="ada", pin="4821", moment=start + timedelta(minutes=29))
    assert (first.result, within.result) == (Result.CHECKED_IN, Result.ALREADY)
    Record.objects.update(marked_at=timezone.now() - timedelta(hours=1, minutes=5))
    response = pin(kiosk_client)
    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "checked_out" and body["message"].endswith(", 1 h 5 min")
    assert body["record"]["checked_out_at"] == Record.objects.get().checked_out_at.isoformat()
    again = pin(kiosk_client)
    assert again.status_code == 200 and "already checked out at" in again.json()["message"]


# Worked hours.


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=timezone.get_current_timezone())


def visit(session, person, day: date, start: str, end: str | None):
    return Record.objects.create(
        session=session,
        person=person,
        status=Status.PRESENT,
        marked_at=at(day, start),
        checked_out_at=at(day, end) if end else None,
        method=Method.FACE,
    )


@pytest.fixture
def shifts(db):
    """Ana's shifts over two ISO weeks (2026-W10: Mon 2 to Sun 8 March; W11 from Mon 9)."""
    ana = UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    group = Group.objects.create(name="Warehouse")
    group.members.set([ana])
    days = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 9)]
    sessions = [
        Session.objects.create(
            group=group,
            title=f"Shift {day}",
            starts_at=at(day, "08:00"),
            ends_at=at(day, "18:00"),
        )
        for day in days
    ]
    visit(sessions[0], ana, days[0], "09:00", "17:02")  # 8 h 2 min
    visit(sessions[1], ana, days[1], "08:30", "12:00")  # 3 h 30 min
    visit(sessions[2], ana, days[2], "09:00", None)  # never checked out: counts nothing
    visit(sessions[3], ana, days[3], "10:00", "10:45")  # 45 min
    return ana


def test_worked_hours_per_day_and_iso_week(shifts):
    weeks = worked_hours(shifts)
    assert [(week.year, week.week, week.minutes) for week in weeks] == [(2026, 11, 45), (2026, 10, 692)]
    assert [(day.day, day.minutes) for day in weeks[1].days] == [(date(2026, 3, 2), 482), (date(2026, 3, 3), 210)]
    assert weeks[1].words == "11 h 32 min" and weeks[0].words == "45 min"
    assert weeks[1].monday == date(2026, 3, 2)
    only_the_first = worked_hours(shifts, start=date(2026, 3, 2), end=date(2026, 3, 2))
    assert [(week.week, week.minutes) for week in only_the_first] == [(10, 482)]


def test_the_history_page_shows_hours_worked(client, staff, shifts, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2026, 3, 10))
    client.force_login(staff)
    content = client.get(reverse("attendance:person-history", args=[shifts.pk])).content.decode()
    assert 'data-week="2026-W10"' in content and "11 h 32 min" in content and "8 h 2 min" in content
    assert 'data-day="2026-03-09"' in content and "45 min" in content
    client.force_login(shifts)
    mine = client.get(reverse("attendance:my-history")).content.decode()
    assert "11 h 32 min" in mine
