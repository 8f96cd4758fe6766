"""Weekly timetables make their sessions ahead: on their weekday within the term, skipping holidays, at
the local wall-clock time across a DST change, once however often or from however many workers; sessions
that no longer fit go unless they have records."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from attendance import timetables
from attendance.models import Group, Holiday, Method, Record, Session, Status, Timetable
from attendance.tasks import generate_timetables
from tests.conftest import run_together

pytestmark = pytest.mark.django_db(transaction=True)

# A Monday morning before the spring term of 2027; the sessions made are those after it.
BEFORE_TERM = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)


@pytest.fixture
def group(staff):
    return Group.objects.create(name="Class 8C", owner=staff)


def weekly(group, *, weekday, first_day, last_day, starts_at=time(9, 0), ends_at=time(10, 0), **fields):
    return Timetable.objects.create(
        group=group,
        title=fields.pop("title", "Maths"),
        weekday=weekday,
        starts_at=starts_at,
        ends_at=ends_at,
        first_day=first_day,
        last_day=last_day,
        location=fields.pop("location", "Room 7"),
        **fields,
    )


def local_starts() -> list[str]:
    sessions = Session.objects.order_by("starts_at")
    return [timezone.localtime(session.starts_at).strftime("%Y-%m-%d %H:%M") for session in sessions]


def excuse(person, session) -> Record:
    """A record of ``person`` at ``session``, as a staff member excusing them ahead would make."""
    return Record.objects.create(session=session, person=person, status=Status.EXCUSED, method=Method.MANUAL)


def test_a_term_with_a_half_term_holiday_makes_exactly_its_wednesdays(group):
    Holiday.objects.create(name="Half term", first_day=date(2027, 1, 25), last_day=date(2027, 1, 29))
    entry = weekly(group, weekday=2, first_day=date(2027, 1, 4), last_day=date(2027, 2, 12), late_after_minutes=5)
    made = timetables.generate_sessions(until=date(2027, 3, 1), moment=BEFORE_TERM)
    assert made == 5
    assert local_starts() == [
        "2027-01-06 09:00",
        "2027-01-13 09:00",
        "2027-01-20 09:00",
        "2027-02-03 09:00",
        "2027-02-10 09:00",
    ]
    session = Session.objects.order_by("starts_at").first()
    assert (session.group, session.timetable, session.title, session.location) == (group, entry, "Maths", "Room 7")
    assert session.ends_at - session.starts_at == timedelta(hours=1) and session.late_after_minutes == 5


def test_sessions_are_made_only_up_to_the_horizon_and_never_before_now(group):
    weekly(group, weekday=0, first_day=date(2027, 1, 1), last_day=date(2027, 3, 31))
    ten_oclock_on_a_monday = datetime(2027, 1, 11, 10, 0, tzinfo=UTC)  # that day's 09:00 has begun
    timetables.generate_sessions(until=date(2027, 1, 25), moment=ten_oclock_on_a_monday)
    assert local_starts() == ["2027-01-18 09:00", "2027-01-25 09:00"]


def test_a_lesson_under_way_when_its_entry_is_added_is_made_once(group):
    """A teacher adding today's 09:00-10:00 lesson at 09:30 can still check the class in."""
    weekly(group, weekday=0, first_day=date(2027, 1, 1), last_day=date(2027, 3, 31))
    half_past_nine = datetime(2027, 1, 11, 9, 30, tzinfo=UTC)
    assert timetables.generate_sessions(until=date(2027, 1, 18), moment=half_past_nine) == 2
    assert timetables.generate_sessions(until=date(2027, 1, 18), moment=half_past_nine) == 0
    assert local_starts() == ["2027-01-11 09:00", "2027-01-18 09:00"]


def test_a_second_run_makes_nothing_new(group):
    weekly(group, weekday=4, first_day=date(2027, 1, 4), last_day=date(2027, 2, 12))
    assert timetables.generate_sessions(until=date(2027, 2, 12), moment=BEFORE_TERM) == 6
    first = sorted(Session.objects.values_list("pk", flat=True))
    assert timetables.generate_sessions(until=date(2027, 2, 12), moment=BEFORE_TERM) == 0
    assert sorted(Session.objects.values_list("pk", flat=True)) == first


def test_two_workers_generating_at_once_make_each_session_once(group):
    for weekday in range(5):
        weekly(group, weekday=weekday, first_day=date(2027, 1, 4), last_day=date(2027, 2, 12), title=f"Day {weekday}")
    outcomes = run_together(
        *[lambda: timetables.generate_sessions(until=date(2027, 2, 12), moment=BEFORE_TERM) for _ in range(2)]
    )
    assert all(isinstance(made, int) for made in outcomes), outcomes
    assert sum(outcomes) == 30 == Session.objects.count()
    assert len(set(Session.objects.values_list("timetable", "starts_at"))) == 30


def test_a_dst_change_keeps_the_wall_clock_time(group, settings):
    settings.TIME_ZONE = "Europe/London"  # British Summer Time ends on Sunday 31 October 2027
    weekly(group, weekday=0, first_day=date(2027, 10, 18), last_day=date(2027, 11, 8))
    timetables.generate_sessions(until=date(2027, 11, 30), moment=datetime(2027, 10, 17, 12, 0, tzinfo=UTC))
    assert local_starts() == ["2027-10-18 09:00", "2027-10-25 09:00", "2027-11-01 09:00", "2027-11-08 09:00"]
    in_utc = [session.starts_at.astimezone(UTC).hour for session in Session.objects.order_by("starts_at")]
    assert in_utc == [8, 8, 9, 9]


def soon(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def thursday_lessons(group, staff, settings):
    """An entry saved as the pages save it: sessions 3 and 10 days from now (the horizon is 2 weeks)."""
    settings.ATTENDANCE = {**settings.ATTENDANCE, "TIMETABLE_WEEKS_AHEAD": 2}
    fields = {
        "title": "Maths",
        "weekday": soon(3).weekday(),
        "starts_at": time(9, 0),
        "ends_at": time(10, 0),
        "location": "Room 7",
        "late_after_minutes": 10,
        "first_day": soon(0),
        "last_day": soon(60),
    }
    saved = timetables.create_timetable(group=group, by=staff, **fields)
    assert saved.sessions.created == 2 and saved.until == soon(14)
    return saved.timetable, fields


def days_of(sessions) -> list[date]:
    return sorted(timezone.localtime(session.starts_at).date() for session in sessions)


def test_saving_an_entry_makes_its_sessions_up_to_the_horizon(thursday_lessons):
    entry, _ = thursday_lessons
    assert days_of(entry.sessions.all()) == [soon(3), soon(10)]
    assert entry.created_by is not None


def test_moving_an_entry_moves_its_future_sessions_but_keeps_those_with_records(thursday_lessons, member):
    entry, fields = thursday_lessons
    excused = entry.sessions.order_by("starts_at").first()
    excuse(member, excused)
    saved = timetables.update_timetable(timetable=entry, **{**fields, "weekday": soon(4).weekday(), "title": "Algebra"})
    assert (saved.sessions.created, saved.sessions.removed) == (2, 1)
    assert days_of(Session.objects.all()) == [soon(3), soon(4), soon(11)]
    assert Session.objects.get(pk=excused.pk).title == "Maths"  # kept as it was, with its record
    assert Record.objects.get().session_id == excused.pk
    assert {s.title for s in Session.objects.exclude(pk=excused.pk)} == {"Algebra"}


def test_a_new_end_time_or_room_changes_the_future_sessions_in_place(thursday_lessons):
    entry, fields = thursday_lessons
    before = sorted(entry.sessions.values_list("pk", flat=True))
    timetables.update_timetable(timetable=entry, **{**fields, "ends_at": time(10, 30), "location": "Lab 2"})
    sessions = list(entry.sessions.order_by("starts_at"))
    assert sorted(s.pk for s in sessions) == before
    assert {(timezone.localtime(s.ends_at).time(), s.location) for s in sessions} == {(time(10, 30), "Lab 2")}


def test_deleting_an_entry_removes_its_future_sessions_without_records(thursday_lessons, member):
    entry, _ = thursday_lessons
    kept = entry.sessions.order_by("-starts_at").first()
    excuse(member, kept)
    assert timetables.delete_timetable(timetable=entry) == 1
    assert not Timetable.objects.exists()
    assert list(Session.objects.values_list("pk", "timetable")) == [(kept.pk, None)]


def test_a_holiday_added_later_removes_its_sessions_and_deleting_it_brings_them_back(thursday_lessons, member):
    entry, _ = thursday_lessons
    holiday, generated = timetables.add_holiday(name="Inset days", first_day=soon(1), last_day=soon(12))
    assert generated.removed == 2 and not entry.sessions.exists()
    assert timetables.delete_holiday(holiday=holiday).created == 2
    assert days_of(entry.sessions.all()) == [soon(3), soon(10)]
    excuse(member, entry.sessions.order_by("starts_at").first())
    _, generated = timetables.add_holiday(name="Inset days", first_day=soon(1), last_day=soon(12))
    assert generated.removed == 1 and days_of(entry.sessions.all()) == [soon(3)]


def test_the_daily_task_generates_every_timetable(group, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "TIMETABLE_WEEKS_AHEAD": 3}
    weekly(group, weekday=soon(2).weekday(), first_day=soon(0), last_day=soon(90))
    weekly(group, weekday=soon(5).weekday(), first_day=soon(0), last_day=soon(90), title="Art")
    assert generate_timetables() == 6
    assert generate_timetables() == 0
    assert days_of(Session.objects.filter(title="Art")) == [soon(5), soon(12), soon(19)]
