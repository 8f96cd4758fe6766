"""Teachers run their own groups from the app's pages: create and edit them, pick their members, schedule
sessions and a weekly timetable, holidays; another teacher's group is 404, a member gets 403; the admin has
one Groups."""

from datetime import date, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from attendance.models import Group, Holiday, Record, Session, Timetable
from tests.conftest import missing_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def teacher_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def admin_user(user_factory):
    return user_factory(role="admin", first_name="Ada", last_name="Admin")


@pytest.fixture
def group(staff):
    return Group.objects.create(name="Class 8C", owner=staff)


@pytest.fixture
def others_group(user_factory):
    return Group.objects.create(name="Class 11X", owner=user_factory(role="staff"))


def text(response) -> str:
    return response.content.decode()


def soon(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def test_a_teacher_creates_a_group_and_runs_it(teacher_client, staff, user_factory):
    other = user_factory(role="staff")
    response = teacher_client.post(
        reverse("attendance:group-new"),
        {
            "name": " Class 8C ",
            "description": "Tuesday maths",
            "notify_absent": "on",
            "rate_alert_below": "80",
            "owner": other.pk,
        },
    )
    group = Group.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("attendance:group-members", args=[group.pk])
    assert (group.name, group.owner, group.notify_absent, group.notify_late, group.rate_alert_below) == (
        "Class 8C",
        staff,  # staff cannot hand a group to somebody else
        True,
        False,
        80,
    )
    listed = text(teacher_client.get(reverse("attendance:groups")))
    assert "Class 8C" in listed and str(staff) in listed and "New group" in listed


def test_a_teacher_edits_the_name_and_the_notifications(teacher_client, group):
    page = teacher_client.get(reverse("attendance:group-edit", args=[group.pk]))
    assert page.status_code == 200 and 'value="Class 8C"' in text(page) and 'name="owner"' not in text(page)
    data = {"name": "Class 8D", "description": "", "notify_late": "on", "rate_alert_below": ""}
    assert teacher_client.post(reverse("attendance:group-edit", args=[group.pk]), data).status_code == 302
    group.refresh_from_db()
    assert (group.name, group.notify_absent, group.notify_late, group.rate_alert_below) == (
        "Class 8D",
        False,
        True,
        None,
    )


def test_an_administrator_chooses_the_owner_among_staff(client, admin_user, staff, member):
    client.force_login(admin_user)
    url = reverse("attendance:group-new")
    refused = client.post(url, {"name": "Class 9", "owner": member.pk})
    assert refused.status_code == 400 and "Only active staff or administrators can run a group." in text(refused)
    assert client.post(url, {"name": "Class 9", "owner": missing_key()}).status_code == 404
    assert not Group.objects.exists()
    assert client.post(url, {"name": "Class 9", "owner": staff.pk}).status_code == 302
    assert Group.objects.get().owner == staff


def test_a_taken_name_is_400_and_changes_nothing(teacher_client, group, others_group):
    response = teacher_client.post(reverse("attendance:group-new"), {"name": "Class 11X"})
    assert response.status_code == 400 and "A group with that name exists already" in text(response)
    edit = teacher_client.post(reverse("attendance:group-edit", args=[group.pk]), {"name": "Class 11X"})
    assert edit.status_code == 400
    assert sorted(Group.objects.values_list("name", flat=True)) == ["Class 11X", "Class 8C"]


def test_the_member_picker_offers_only_active_members_and_finds_them(
    teacher_client, group, user_factory, admin_user, kiosk
):
    pupil = user_factory(first_name="Pat", last_name="Pupil", external_id="P-1042")
    user_factory(first_name="Gone", last_name="Away", is_active=False)
    other_teacher = user_factory(role="staff", first_name="Tess", last_name="Teacher")
    page = teacher_client.get(reverse("attendance:group-members", args=[group.pk]))
    assert [person.pk for person in page.context["choices"]] == [pupil.pk]
    for shown_nowhere in (admin_user, kiosk, other_teacher):
        assert f'value="{shown_nowhere.pk}"' not in text(page)
    found = teacher_client.get(reverse("attendance:group-members", args=[group.pk]), {"q": "p-104"})
    assert [person.pk for person in found.context["choices"]] == [pupil.pk]
    assert not teacher_client.get(reverse("attendance:group-members", args=[group.pk]), {"q": "Tess"}).context[
        "choices"
    ]


def test_a_teacher_adds_and_removes_members(teacher_client, group, user_factory):
    pupils = [user_factory(), user_factory()]
    url = reverse("attendance:group-members", args=[group.pk])
    added = teacher_client.post(url, {"action": "add", "people": [p.pk for p in pupils]}, follow=True)
    assert "2 people added." in text(added)
    assert set(group.members.all()) == set(pupils)
    assert not [p for p in added.context["choices"] if p in pupils]
    teacher_client.post(url, {"action": "remove", "people": [pupils[0].pk]})
    assert list(group.members.all()) == [pupils[1]]


@pytest.mark.parametrize("who", ["admin", "staff", "kiosk", "inactive"])
def test_adding_anyone_but_an_active_member_is_400_and_adds_nobody(teacher_client, group, user_factory, member, who):
    outsider = user_factory(role="member", is_active=False) if who == "inactive" else user_factory(role=who)
    url = reverse("attendance:group-members", args=[group.pk])
    response = teacher_client.post(url, {"action": "add", "people": [member.pk, outsider.pk]})
    assert response.status_code == 400
    assert "Only active people with the member role can join a group." in text(response)
    assert not group.members.exists()


def test_removing_someone_who_is_not_a_member_is_400(teacher_client, group, member):
    response = teacher_client.post(
        reverse("attendance:group-members", args=[group.pk]), {"action": "remove", "people": [member.pk]}
    )
    assert response.status_code == 400 and "not a member of this group" in text(response)


def test_a_teacher_schedules_a_session(teacher_client, group):
    day = soon(5)
    data = {
        "title": "Revision",
        "starts_at": f"{day}T14:00",
        "ends_at": f"{day}T15:30",
        "late_after_minutes": "5",
        "location": "Hall",
    }
    response = teacher_client.post(reverse("attendance:group-session-new", args=[group.pk]), data)
    session = Session.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("attendance:session", args=[session.pk])
    assert (session.group, session.title, session.location, session.late_after_minutes) == (
        group,
        "Revision",
        "Hall",
        5,
    )
    assert timezone.localtime(session.starts_at).strftime("%Y-%m-%d %H:%M") == f"{day} 14:00"
    assert session.ends_at - session.starts_at == timedelta(minutes=90) and session.timetable is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_at": "T13:00"}, "A session ends after it starts."),
        ({"ends_at": "+2T15:00"}, "A session lasts at most 24 hours."),
        ({"starts_at": "9999-12-31T10:00"}, "Choose a day from 2000-01-01 to 2099-12-31."),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
        ({"late_after_minutes": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"title": ""}, "This field is required."),
    ],
)
def test_a_bad_session_is_400_with_the_reason_and_makes_nothing(teacher_client, group, change, message):
    day = soon(5)

    def on_day(value):
        if value.startswith("+2"):
            return f"{soon(7)}{value[2:]}"
        return f"{day}{value}" if value.startswith("T") else value

    data = {"title": "Revision", "starts_at": f"{day}T14:00", "ends_at": f"{day}T15:00", "late_after_minutes": "5"}
    data |= {key: on_day(value) for key, value in change.items()}
    response = teacher_client.post(reverse("attendance:group-session-new", args=[group.pk]), data)
    assert response.status_code == 400 and message in text(response)
    assert not Session.objects.exists()


def timetable_entry(**changes) -> dict:
    """A Wednesday lesson across a term that starts on the Monday after next."""
    monday = soon(7 + (7 - soon(7).weekday()) % 7)
    entry = {
        "title": "Maths",
        "weekday": "2",
        "starts_at": "09:00",
        "ends_at": "10:00",
        "location": "Room 7",
        "late_after_minutes": "10",
        "first_day": monday.isoformat(),
        "last_day": (monday + timedelta(days=39)).isoformat(),  # a Friday, six weeks on
    }
    return entry | changes


def test_a_weekly_timetable_across_a_term_with_a_holiday_lists_exactly_its_sessions(teacher_client, group, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "TIMETABLE_WEEKS_AHEAD": 12}
    entry = timetable_entry()
    monday = date.fromisoformat(entry["first_day"])
    holidays = teacher_client.post(
        reverse("attendance:holidays"),
        {"name": "Half term", "first_day": monday + timedelta(days=14), "last_day": monday + timedelta(days=18)},
    )
    assert holidays.status_code == 302 and Holiday.objects.count() == 1
    response = teacher_client.post(reverse("attendance:group-timetable", args=[group.pk]), entry, follow=True)
    expected = [monday + timedelta(days=days) for days in (2, 9, 23, 30, 37)]  # the half-term Wednesday skipped
    assert "Timetable saved: 5 new sessions" in text(response)
    assert [s.starts_at.date() for s in response.context["upcoming"]] == expected
    for day in expected:
        assert f'data-day="{day.isoformat()}"' in text(response)
    assert {timezone.localtime(s.starts_at).time() for s in Session.objects.all()} == {time(9, 0)}
    again = teacher_client.post(reverse("attendance:group-timetable", args=[group.pk]), entry, follow=True)
    assert "Timetable saved: 5 new sessions" in text(again) and Session.objects.count() == 10
    assert Timetable.objects.count() == 2  # the same lesson twice is two entries, each with its sessions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_at": "08:00"}, "A lesson ends after it starts."),
        ({"last_day": "2026-01-01", "first_day": "2026-02-01"}, "The term ends on or after the day it starts."),
        ({"weekday": "9"}, "Select a valid choice. 9 is not one of the available choices."),
        ({"weekday": "Caturday"}, "Select a valid choice."),
        ({"starts_at": "25:00"}, "Enter a valid time."),
        ({"first_day": "9999-12-31"}, "Choose a day from 2000-01-01 to 2099-12-31."),
    ],
)
def test_a_bad_timetable_entry_is_400_with_the_reason_and_makes_nothing(teacher_client, group, change, message):
    response = teacher_client.post(reverse("attendance:group-timetable", args=[group.pk]), timetable_entry(**change))
    assert response.status_code == 400 and message in text(response)
    assert not Timetable.objects.exists() and not Session.objects.exists()


def test_editing_and_deleting_an_entry_moves_its_sessions_and_keeps_those_with_records(
    teacher_client, group, member, settings
):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "TIMETABLE_WEEKS_AHEAD": 2}
    entry_data = timetable_entry(first_day=soon(0).isoformat(), weekday=str(soon(3).weekday()))
    teacher_client.post(reverse("attendance:group-timetable", args=[group.pk]), entry_data)
    entry = Timetable.objects.get()
    recorded = entry.sessions.order_by("starts_at").first()
    Record.objects.create(session=recorded, person=member, status="excused", method="manual")
    form = teacher_client.get(reverse("attendance:timetable-edit", args=[entry.pk]))
    assert form.status_code == 200 and 'value="09:00"' in text(form)
    moved = {**entry_data, "weekday": str(soon(4).weekday())}
    response = teacher_client.post(reverse("attendance:timetable-edit", args=[entry.pk]), moved, follow=True)
    assert "1 session that no longer fits was removed." in text(response)
    assert sorted(s.starts_at.date() for s in Session.objects.all()) == [soon(3), soon(4), soon(11)]
    bad = teacher_client.post(reverse("attendance:timetable-edit", args=[entry.pk]), {**moved, "ends_at": "08:00"})
    assert bad.status_code == 400 and Timetable.objects.get().ends_at == time(10, 0)
    deleted = teacher_client.post(reverse("attendance:timetable-delete", args=[entry.pk]), follow=True)
    assert "deleted with 2 future sessions" in text(deleted)
    assert list(Session.objects.values_list("pk", "timetable")) == [(recorded.pk, None)]


def test_holidays_are_listed_added_and_deleted_and_bad_ones_refused(teacher_client):
    url = reverse("attendance:holidays")
    refused = teacher_client.post(url, {"name": "Backwards", "first_day": "2027-02-20", "last_day": "2027-02-13"})
    assert refused.status_code == 400 and "A holiday ends on or after its first day." in text(refused)
    assert not Holiday.objects.exists()
    teacher_client.post(url, {"name": "Half term", "first_day": "2027-02-15", "last_day": "2027-02-19"})
    holiday = Holiday.objects.get()
    assert "Half term" in text(teacher_client.get(url))
    assert teacher_client.post(reverse("attendance:holiday-delete", args=[holiday.pk])).status_code == 302
    assert not Holiday.objects.exists()


def test_another_teachers_group_is_404_on_every_page(teacher_client, others_group):
    entry = Timetable.objects.create(
        group=others_group,
        title="Art",
        weekday=1,
        starts_at=time(9),
        ends_at=time(10),
        first_day=soon(0),
        last_day=soon(30),
    )
    assert "Class 11X" not in text(teacher_client.get(reverse("attendance:groups")))
    for name in ("group", "group-edit", "group-members", "group-session-new", "group-timetable"):
        url = reverse(f"attendance:{name}", args=[others_group.pk])
        assert teacher_client.get(url).status_code == 404, name
        assert teacher_client.post(url, {"name": "Mine now", "action": "add"}).status_code == 404, name
    assert teacher_client.get(reverse("attendance:timetable-edit", args=[entry.pk])).status_code == 404
    assert teacher_client.post(reverse("attendance:timetable-delete", args=[entry.pk])).status_code == 404
    assert Timetable.objects.filter(pk=entry.pk).exists() and Group.objects.get().name == "Class 11X"


def test_an_administrator_sees_and_runs_every_group(client, admin_user, others_group):
    client.force_login(admin_user)
    assert "Class 11X" in text(client.get(reverse("attendance:groups")))
    for name in ("group", "group-edit", "group-members", "group-session-new", "group-timetable"):
        assert client.get(reverse(f"attendance:{name}", args=[others_group.pk])).status_code == 200, name


def test_a_member_gets_403(client, member, group):
    client.force_login(member)
    for name, args in [
        ("groups", []),
        ("group-new", []),
        ("holidays", []),
        ("group-members", [group.pk]),
        ("group-timetable", [group.pk]),
        ("group-session-new", [group.pk]),
    ]:
        assert client.get(reverse(f"attendance:{name}", args=args)).status_code == 403, name


def test_the_group_page_links_to_running_the_group(teacher_client, group):
    content = text(teacher_client.get(reverse("attendance:group", args=[group.pk])))
    for name in ("group-edit", "group-members", "group-timetable", "group-session-new"):
        assert reverse(f"attendance:{name}", args=[group.pk]) in content


def test_the_dashboard_offers_teachers_their_groups_and_administrators_the_admin(client, staff, admin_user):
    client.force_login(staff)
    content = text(client.get(reverse("home")))
    assert "Your groups, members and timetables" in content and "Administration" not in content
    client.force_login(admin_user)
    content = text(client.get(reverse("home")))
    assert "Your groups, members and timetables" in content and "Administration" in content


def test_the_admin_has_one_groups_and_its_pickers_offer_only_members_and_staff(
    client, admin_user, staff, member, kiosk, user_factory
):
    client.force_login(admin_user)
    index = text(client.get(reverse("admin:index")))
    assert index.count(">Groups<") == 1 and "/admin/auth/group/" not in index
    assert "/admin/attendance/holiday/" in index and "/admin/attendance/absencereason/" in index
    user_factory(is_active=False)
    form = client.get(reverse("admin:attendance_group_add")).context["adminform"].form
    assert list(form.fields["members"].queryset) == [member]
    assert set(form.fields["owner"].queryset) == {admin_user, staff}
    person = text(client.get(reverse("admin:accounts_user_change", args=[member.pk])))
    assert 'name="user_permissions"' not in person and 'name="groups"' not in person


def test_a_timetable_added_in_the_admin_makes_its_sessions(client, admin_user, group, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "TIMETABLE_WEEKS_AHEAD": 2}
    client.force_login(admin_user)
    prefix = "timetables"
    data = {
        "name": group.name,
        "description": "",
        "owner": group.owner_id,
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-0-title": "Science",
        f"{prefix}-0-weekday": str(soon(3).weekday()),
        f"{prefix}-0-starts_at": "11:00",
        f"{prefix}-0-ends_at": "12:00",
        f"{prefix}-0-late_after_minutes": "10",
        f"{prefix}-0-first_day": soon(0).isoformat(),
        f"{prefix}-0-last_day": soon(40).isoformat(),
    }
    response = client.post(reverse("admin:attendance_group_change", args=[group.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert sorted(s.starts_at.date() for s in Session.objects.filter(timetable__title="Science")) == [soon(3), soon(10)]


def test_the_admins_new_session_page_takes_only_real_times_from_its_query(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:attendance_session_add")
    response = client.get(url, {"starts_at": "abc", "ends_at": "2027-01-05T10:00:00"})
    assert response.status_code == 200
    initial = response.context["adminform"].form.initial
    assert "starts_at" not in initial and timezone.localtime(initial["ends_at"]).hour == 10
