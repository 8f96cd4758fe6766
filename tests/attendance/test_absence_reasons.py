"""Manual marks with absence reasons, notes and arrival times: the roster, the day list, the CSV export,
the history's rate and the API; bad combinations refused with nothing changed."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from attendance.models import AbsenceReason, Change, Record, RecordChange, Status
from attendance.selectors import day_summaries
from attendance.services import MarkRefused, mark_manually
from tests.attendance.conftest import make_session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reasons(db):
    """The reasons migration 0010 seeds (a transactional test starts from an empty table)."""
    seeded = [("illness", "Illness", True), ("authorised", "Authorised absence", True)]
    seeded += [("unauthorised", "Unauthorised absence", False)]
    made = {}
    for code, label, excused in seeded:
        made[code], _ = AbsenceReason.objects.get_or_create(code=code, defaults={"label": label, "excused": excused})
    return made


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def mark(client, session, person, **fields):
    return client.post(reverse("attendance:session-mark", args=[session.pk]), {"person": person.pk, **fields})


def clock(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def test_absences_with_reasons_are_shown_and_counted_on_the_day_list_and_in_the_csv(
    staff_client, classroom, reasons
):
    session, people = classroom.session, classroom.people
    ill = mark(staff_client, session, people["joe_biden"], status="excused", reason="illness", note="flu, mum called")
    truant = mark(staff_client, session, people["amy_adams"], status="absent", reason="unauthorised")
    assert ill.status_code == truant.status_code == 302

    roster = staff_client.get(reverse("attendance:session", args=[session.pk])).content.decode()
    assert "Illness" in roster and "flu, mum called" in roster and "Unauthorised absence" in roster

    summary = dict(day_summaries(timezone.localdate()))[session]
    assert summary == {"present": 0, "late": 0, "excused": 1, "absent": 1, "expected": 3}
    day_list = staff_client.get(reverse("attendance:sessions")).content.decode()
    assert '<th>Excused</th>' in day_list and '<td class="excused"><span class="badge">1</span></td>' in day_list

    export = staff_client.get(reverse("attendance:session-export", args=[session.pk]))
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    joe = next(row for row in rows if row["username"] == "joe_biden")
    amy = next(row for row in rows if row["username"] == "amy_adams")
    assert (joe["status"], joe["reason"], joe["note"]) == ("excused", "illness", "flu, mum called")
    assert joe["arrived_at"] == "" and joe["left_at"] == ""
    assert (amy["status"], amy["reason"]) == ("absent", "unauthorised") and amy["edited_at"]
    assert [(c.reason, c.note) for c in RecordChange.objects.order_by("at")] == [
        ("illness", "flu, mum called"),
        ("unauthorised", ""),
    ]


def test_after_the_end_nobody_marked_counts_absent_and_excused_stays_apart(classroom, staff, reasons):
    ended = make_session(classroom.group, started_minutes_ago=120, length_minutes=60, title="History")
    joe = classroom.people["joe_biden"]
    mark_manually(session=ended, person=joe, status="excused", reason=reasons["illness"], by=staff)
    summary = dict(day_summaries(timezone.localdate()))[ended]
    assert summary["excused"] == 1 and summary["absent"] == 4 and summary["expected"] == 0


def test_editing_a_mark_keeps_the_arrival(staff_client, staff, classroom, reasons):
    session, amy = classroom.session, classroom.people["amy_adams"]
    arrived = session.starts_at + timedelta(minutes=2)
    assert mark(staff_client, session, amy, status="present", arrived_at=clock(arrived)).status_code == 302
    record = Record.objects.get()
    assert record.marked_at == arrived.replace(second=0, microsecond=0) and record.edited_at is not None
    first_edit = record.edited_at

    assert mark(staff_client, session, amy, status="late", note="bus").status_code == 302
    record.refresh_from_db()
    assert record.status == Status.LATE and record.marked_at == arrived.replace(second=0, microsecond=0)
    assert record.edited_at > first_edit and record.note == "bus"
    roster = staff_client.get(reverse("attendance:session", args=[session.pk])).content.decode()
    assert clock(record.marked_at) in roster
    assert f"edited {clock(record.edited_at)} by {staff}" in roster


def test_a_new_mark_without_a_time_arrives_at_the_start_or_now(classroom, staff):
    session = classroom.session
    present = mark_manually(session=session, person=classroom.people["amy_adams"], status="present", by=staff)
    before = timezone.now()
    late = mark_manually(session=session, person=classroom.people["joe_biden"], status="late", by=staff)
    session.refresh_from_db()
    present.refresh_from_db()
    assert present.marked_at == session.starts_at
    assert before <= late.marked_at <= timezone.now()


def test_a_face_arrival_is_kept_when_staff_change_the_status(classroom, staff, reasons):
    amy = classroom.people["amy_adams"]
    came = timezone.now().replace(microsecond=0) - timedelta(minutes=3)
    Record.objects.create(session=classroom.session, person=amy, status=Status.PRESENT, marked_at=came, method="face")
    record = mark_manually(session=classroom.session, person=amy, status="late", by=staff)
    assert record.marked_at == came and record.method == "manual"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "excused", "reason": "unauthorised"}, "does not excuse"),
        ({"status": "absent", "reason": "illness"}, "excuses: mark excused"),
        ({"status": "absent"}, "Choose a reason for an excused or absent mark."),
        ({"status": "excused", "reason": "no-such-reason"}, "Select a valid choice"),
        ({"status": "excused", "reason": "retired"}, "Select a valid choice"),
        ({"status": "absent", "reason": "unauthorised", "arrived_at": "09:00"}, "no arrival time"),
        ({"status": "present", "arrived_at": "25:99"}, "Enter a valid time"),
        ({"status": "present", "arrived_at": "x" * 500}, "Enter a valid time"),
        ({"status": "present", "note": "n" * 201}, "at most 200 characters"),
    ],
)
def test_bad_combinations_are_400_and_change_nothing(staff_client, staff, classroom, reasons, fields, message):
    AbsenceReason.objects.create(code="retired", label="Retired reason", excused=True, is_active=False)
    amy = classroom.people["amy_adams"]
    before = mark_manually(session=classroom.session, person=amy, status="present", by=staff)
    before.refresh_from_db()  # as stored: MongoDB keeps milliseconds
    changes = RecordChange.objects.count()
    response = mark(staff_client, classroom.session, amy, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    after = Record.objects.get()
    assert (after.status, after.marked_at, after.reason, after.note, after.edited_at) == (
        before.status,
        before.marked_at,
        None,
        "",
        before.edited_at,
    )
    assert RecordChange.objects.count() == changes


def test_an_arrival_after_the_session_is_refused(staff_client, classroom):
    amy = classroom.people["amy_adams"]
    late_night = clock(classroom.session.ends_at + timedelta(minutes=30))
    if late_night < clock(classroom.session.starts_at):
        pytest.skip("the session ends near midnight: half an hour later is another day")
    response = mark(staff_client, classroom.session, amy, status="late", arrived_at=late_night)
    assert response.status_code == 400 and "Give an arrival time from" in response.content.decode()
    assert not Record.objects.exists()


def test_the_service_refuses_a_mismatch_too(classroom, staff, reasons):
    with pytest.raises(MarkRefused, match="does not excuse"):
        mark_manually(
            session=classroom.session,
            person=classroom.people["amy_adams"],
            status="excused",
            reason=reasons["unauthorised"],
            by=staff,
        )
    assert not Record.objects.exists() and not RecordChange.objects.exists()


def test_the_rate_leaves_out_excused_sessions_and_says_so(staff_client, staff, classroom, reasons):
    amy = classroom.people["amy_adams"]
    marks = [("present", None), ("excused", reasons["illness"]), ("absent", reasons["unauthorised"])]
    for days_ago, (status, reason) in enumerate(marks, start=1):
        session = make_session(classroom.group, started_minutes_ago=days_ago * 24 * 60, title=f"Day {days_ago}")
        mark_manually(session=session, person=amy, status=status, reason=reason, by=staff)
    content = staff_client.get(reverse("attendance:person-history", args=[amy.pk])).content.decode()
    assert "50%" in content  # one attended of two expected: the excused day is left out
    assert "leaving out the excused ones" in content
    assert "Illness" in content and "Unauthorised absence" in content


def test_the_api_record_has_the_reason_note_check_out_and_edit(staff_client, staff, classroom, reasons):
    record = mark_manually(
        session=classroom.session,
        person=classroom.people["joe_biden"],
        status="excused",
        reason=reasons["authorised"],
        note="dentist",
        by=staff,
    )
    body = staff_client.get(f"/api/v1/records/{record.pk}").json()
    assert body["reason"] == "authorised" and body["note"] == "dentist"
    assert body["checked_out_at"] is None and body["worked_minutes"] is None
    assert body["edited_at"] is not None
    assert RecordChange.objects.get().action == Change.MARKED
