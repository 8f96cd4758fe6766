"""The weekly register of a group and the report of a person: cells, totals, hours, and who may see them."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from attendance.models import AbsenceReason, Group, Record, Session, Status
from attendance.registers import IsoWeek, person_report, week_register
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WEEK = IsoWeek(2026, 45)  # Monday 2 to Sunday 8 November 2026


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.get_current_timezone())


def lesson(group, day: date, hour: int, title: str) -> Session:
    return Session.objects.create(group=group, title=title, starts_at=at(day, hour), ends_at=at(day, hour + 1))


def mark(session, person, status, *, arrived=None, left=None, reason=None, note=""):
    return Record.objects.create(
        session=session,
        person=person,
        status=status,
        method="manual",
        marked_at=arrived or session.starts_at,
        checked_out_at=left,
        reason=reason,
        note=note,
    )


@pytest.fixture
def teacher(db):
    return UserFactory(role=Role.STAFF, first_name="Tess", last_name="Teacher")


@pytest.fixture
def week_of_class(teacher):
    """Three members, three lessons in WEEK: Monday and Wednesday marked, Friday's still to come at
    Friday noon. Baker is marked absent by hand (unauthorised), Young excused (illness) on Monday and
    never marked on Wednesday."""
    group = Group.objects.create(name="Class 4C", owner=teacher)
    adams = UserFactory(username="adams", first_name="Carl", last_name="Adams", external_id="P-001")
    baker = UserFactory(username="baker", first_name="Ann", last_name="Baker", external_id="P-002")
    young = UserFactory(username="young", first_name="Dora", last_name="Young")
    group.members.set([young, baker, adams])
    monday, wednesday, friday = WEEK.monday, WEEK.monday + timedelta(days=2), WEEK.monday + timedelta(days=4)
    maths, science, art = lesson(group, monday, 9, "Maths"), lesson(group, wednesday, 9, "Science"), lesson(
        group, friday, 14, "Art"
    )
    illness = AbsenceReason.objects.get_or_create(code="illness", defaults={"label": "Illness", "excused": True})[0]
    unauthorised = AbsenceReason.objects.get_or_create(
        code="unauthorised", defaults={"label": "Unauthorised absence", "excused": False}
    )[0]
    mark(maths, adams, Status.PRESENT, arrived=at(monday, 8, 58), left=at(monday, 10))
    mark(maths, baker, Status.LATE, arrived=at(monday, 9, 12), left=at(monday, 10))
    mark(maths, young, Status.EXCUSED, reason=illness, note="doctor's letter")
    mark(science, adams, Status.PRESENT, arrived=at(wednesday, 9))
    mark(science, baker, Status.ABSENT, reason=unauthorised)
    return {"group": group, "adams": adams, "baker": baker, "young": young, "sessions": [maths, science, art]}


FRIDAY_NOON = at(WEEK.monday + timedelta(days=4), 12)


def test_the_register_has_a_code_per_member_and_session_and_totals_both_ways(week_of_class):
    register = week_register(week_of_class["group"], WEEK, moment=FRIDAY_NOON)
    assert [row.person.username for row in register.rows] == ["adams", "baker", "young"]  # by last name
    assert [column.session.title for column in register.columns] == ["Maths", "Science", "Art"]
    codes = {row.person.username: [cell.code for cell in row.cells] for row in register.rows}
    assert codes == {"adams": ["P", "P", ""], "baker": ["L", "A", ""], "young": ["E", "A", ""]}
    young = register.rows[2].cells[0]
    assert (young.reason_code, young.note, young.footnote) == ("illness", "doctor's letter", 1)
    assert register.rows[1].cells[1].footnote == 2  # unauthorised
    assert [(reason.number, reason.code) for reason in register.reasons] == [(1, "illness"), (2, "unauthorised")]
    totals = {row.person.username: vars(row.totals) for row in register.rows}
    assert totals["adams"] == {"present": 2, "late": 0, "excused": 0, "absent": 0}
    assert totals["baker"] == {"present": 0, "late": 1, "excused": 0, "absent": 1}
    assert totals["young"] == {"present": 0, "late": 0, "excused": 1, "absent": 1}
    by_session = [vars(column.totals) for column in register.columns]
    assert by_session == [
        {"present": 1, "late": 1, "excused": 1, "absent": 0},
        {"present": 1, "late": 0, "excused": 0, "absent": 2},
        {"present": 0, "late": 0, "excused": 0, "absent": 0},
    ]
    # Monday 2 of 2 expected (the excused one is not), nothing Tuesday, Wednesday 1 of 3, Friday not over.
    days = [(day.day.isoformat(), day.rate) for day in register.days]
    assert days == [
        ("2026-11-02", 1.0),
        ("2026-11-03", None),
        ("2026-11-04", pytest.approx(1 / 3)),
        ("2026-11-05", None),
        ("2026-11-06", None),
    ]


def test_after_the_week_a_session_nobody_was_marked_at_is_absent_for_all(week_of_class):
    register = week_register(week_of_class["group"], WEEK, moment=at(WEEK.sunday, 20))
    assert [row.cells[2].code for row in register.rows] == ["A", "A", "A"]


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


def test_the_register_page_prints_the_week_with_legend_chart_and_signature(teacher_client, week_of_class):
    url = reverse("attendance:group-register", args=[week_of_class["group"].pk])
    page = teacher_client.get(url, {"week": "2026-W45"})
    content = page.content.decode()
    assert page.status_code == 200
    assert "Class 4C" in content and "Mon 2 Nov 2026" in content and "Sun 8 Nov 2026" in content
    assert 'rel="prev" href="?week=2026-W44"' in content and 'rel="next" href="?week=2026-W46"' in content
    assert "printed on" in content and "Signature" in content and "Tess Teacher" in content
    assert 'onclick="window.print()"' in content and "attendance/print.css" in content
    assert "unauthorised: Unauthorised absence" in content  # the legend's footnote
    assert ">100%</text>" in content and ">33%</text>" in content and ">–</text>" in content
    row = content.split('data-person="baker"', 1)[1].split("</tr>", 1)[0]
    assert ">L</td>" in row and "A<sup>2</sup>" in row  # the week is over: Friday's lesson is absent too
    assert row.count('class="code code-absent"') == 2


def test_the_register_defaults_to_this_week(teacher_client, week_of_class):
    page = teacher_client.get(reverse("attendance:group-register", args=[week_of_class["group"].pk]))
    assert page.status_code == 200
    assert page.context["register"].week == IsoWeek.of(timezone.localdate())


@pytest.mark.parametrize("week", ["2026-49", "2026-W54", "2026-W00", "1999-W10", "next week", "2026-W4x", "9" * 40])
def test_a_bad_week_is_400_with_the_reason(teacher_client, week_of_class, week):
    page = teacher_client.get(reverse("attendance:group-register", args=[week_of_class["group"].pk]), {"week": week})
    assert page.status_code == 400
    assert "such as 2026-W49" in page.content.decode()


def test_another_teachers_group_is_not_found_but_an_administrator_sees_it(client, week_of_class):
    url = reverse("attendance:group-register", args=[week_of_class["group"].pk])
    client.force_login(UserFactory(role=Role.STAFF))
    assert client.get(url, {"week": "2026-W45"}).status_code == 404
    client.force_login(UserFactory(role=Role.ADMIN))
    assert client.get(url, {"week": "2026-W45"}).status_code == 200
    client.force_login(week_of_class["adams"])
    assert client.get(url).status_code == 403


def test_the_person_report_has_every_session_the_rate_and_the_hours_per_week(week_of_class):
    baker, group = week_of_class["baker"], week_of_class["group"]
    next_monday = WEEK.monday + timedelta(days=7)
    drama = lesson(group, next_monday, 11, "Drama")
    mark(drama, baker, Status.PRESENT, arrived=at(next_monday, 10, 55), left=at(next_monday, 12, 25))
    lesson(group, next_monday + timedelta(days=30), 9, "Later")  # out of range

    report = person_report(baker, start=WEEK.monday, end=next_monday + timedelta(days=6), moment=FRIDAY_NOON)
    rows = [(row.session.title, row.status, row.reason_code) for row in report.rows]
    # Friday's Art is still to come and has no mark: not on the report. Drama is later, but marked.
    assert rows == [("Maths", "late", ""), ("Science", "absent", "unauthorised"), ("Drama", "present", "")]
    maths, science, _ = report.rows
    assert maths.arrived_at == at(WEEK.monday, 9, 12) and maths.left_at == at(WEEK.monday, 10)
    assert science.arrived_at is None  # a mark of absence has no arrival
    assert [(str(week.week), week.text) for week in report.weeks] == [("2026-W45", "0:48"), ("2026-W46", "1:30")]
    assert report.worked_text == "2:18"
    assert report.rate_text == "67%" and [group.name for group in report.groups] == ["Class 4C"]


def test_the_person_report_page_for_staff_and_for_the_member_themselves(client, teacher, week_of_class):
    baker = week_of_class["baker"]
    client.force_login(teacher)
    page = client.get(reverse("attendance:person-report", args=[baker.pk]), {"from": "2026-11-01", "to": "2026-11-30"})
    content = page.content.decode()
    assert page.status_code == 200
    assert "Ann Baker" in content and "P-002" in content and "Class 4C" in content
    assert "Unauthorised absence" in content and "09:12" in content and "10:00" in content
    assert "Hours worked" in content and "0:48" in content
    assert ">100%</text>" in content and ">0%</text>" in content  # Monday late (attended), Wednesday absent

    client.force_login(baker)
    assert client.get(reverse("attendance:person-report", args=[baker.pk])).status_code == 403
    own = client.get(reverse("attendance:my-report"), {"from": "2026-11-01", "to": "2026-11-30"})
    assert own.status_code == 200 and "Ann Baker" in own.content.decode()
    assert own.context["report"].person == baker


def test_the_person_report_defaults_to_the_last_30_days(client, member):
    client.force_login(member)
    report = client.get(reverse("attendance:my-report")).context["report"]
    assert report.end == timezone.localdate() and report.start == report.end - timedelta(days=29)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-11-30", "to": "2026-11-01"}, "The first day must come before the last day."),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "Choose at most one year at a time."),
        ({"from": "yesterday"}, "Enter a valid date."),
        ({"to": "9999-12-31"}, "Choose a day from 2000-01-01 to 2099-12-31."),
    ],
)
def test_a_bad_report_range_is_400_with_the_reason(client, member, query, message):
    client.force_login(member)
    page = client.get(reverse("attendance:my-report"), query)
    assert page.status_code == 400 and message in page.content.decode()


def test_the_group_and_history_pages_link_to_the_printable_pages(teacher_client, week_of_class):
    group, baker = week_of_class["group"], week_of_class["baker"]
    assert reverse("attendance:group-register", args=[group.pk]) in teacher_client.get(
        reverse("attendance:group", args=[group.pk])
    ).content.decode()
    assert reverse("attendance:person-report", args=[baker.pk]) in teacher_client.get(
        reverse("attendance:person-history", args=[baker.pk])
    ).content.decode()
