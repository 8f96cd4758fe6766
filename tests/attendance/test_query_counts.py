"""Pages that list many things cost the same number of queries for a few as for many: the group list, a
group's daily rates over many days, a roster, the admin's groups. Each builds a small and a larger case
and compares what the first (uncached) answer of each cost."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attendance.models import Group, Record, Session, Status

pytestmark = pytest.mark.django_db(transaction=True)


def queries_of(client, url: str, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, data)
    assert response.status_code == 200
    return len(captured.captured_queries)


def group_with_members(name: str, size: int, user_factory, *, owner=None) -> Group:
    group = Group.objects.create(name=name, owner=owner)
    group.members.set([user_factory() for _ in range(size)])
    return group


def ended_session(group: Group, *, days_ago: int, hour: int = 9) -> Session:
    start = timezone.localtime().replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    ends = start + timedelta(hours=1)
    return Session.objects.create(group=group, title=f"Day {days_ago}", starts_at=start, ends_at=ends)


def mark_all(session: Session, statuses) -> None:
    people = list(session.group.members.all())
    Record.objects.bulk_create(
        Record(session=session, person=person, status=status) for person, status in zip(people, statuses, strict=False)
    )


def test_the_group_list_counts_members_in_one_query_however_many_groups(
    client, staff, user_factory, django_assert_num_queries
):
    client.force_login(staff)
    url = reverse("attendance:groups")
    for number in range(3):
        group_with_members(f"Class {number}", 4, user_factory, owner=staff)
    few = queries_of(client, url)
    for number in range(3, 6):
        group_with_members(f"Class {number}", 4, user_factory, owner=staff)
    with django_assert_num_queries(few):
        page = client.get(url)
    assert page.content.decode().count("<td>4</td>") == 6


def test_a_groups_daily_rates_cost_the_same_over_many_days(client, staff, user_factory, django_assert_num_queries):
    client.force_login(staff)
    group = group_with_members("Class 8C", 4, user_factory, owner=staff)
    today = timezone.localdate()
    for days_ago in (1, 2, 3):
        for hour in (9, 11):
            mark_all(ended_session(group, days_ago=days_ago, hour=hour), [Status.PRESENT, Status.LATE, Status.EXCUSED])
    url = reverse("attendance:group", args=[group.pk])
    few = queries_of(client, url, {"start": today - timedelta(days=3), "end": today})
    for days_ago in (4, 5, 6, 7, 8, 9):
        mark_all(ended_session(group, days_ago=days_ago), [Status.PRESENT, Status.ABSENT])
    # A range not asked for before: computed, not read from the cache.
    with django_assert_num_queries(few):
        page = client.get(url, {"start": today - timedelta(days=9), "end": today})
    content = page.content.decode()
    assert content.count('class="bar"') == 9
    assert "4/6" in content  # two sessions of 4 members, 1 excused in each: 4 of 6 came
    assert "1/4" in content  # 4 members, one came


def test_a_roster_costs_the_same_for_three_people_as_for_six(client, staff, user_factory):
    client.force_login(staff)
    counts = []
    for size in (3, 6):
        group = group_with_members(f"Class of {size}", size, user_factory)
        session = ended_session(group, days_ago=1)
        mark_all(session, [Status.PRESENT, Status.LATE])
        counts.append(queries_of(client, reverse("attendance:session", args=[session.pk])))
    assert counts[0] == counts[1]


def test_the_admins_groups_count_members_in_one_query(admin_client, user_factory, django_assert_num_queries):
    url = reverse("admin:attendance_group_changelist")
    for number in range(3):
        group_with_members(f"Class {number}", 2, user_factory)
    few = queries_of(admin_client, url)
    for number in range(3, 6):
        group_with_members(f"Class {number}", 5, user_factory)
    with django_assert_num_queries(few):
        page = admin_client.get(url)
    content = page.content.decode()
    assert content.count('<td class="field-member_count">2</td>') == 3
    assert content.count('<td class="field-member_count">5</td>') == 3
    largest_first = admin_client.get(url, {"o": "-3"}).content.decode()  # the Members column
    cell = '<td class="field-member_count">{}</td>'
    assert largest_first.rindex(cell.format(5)) < largest_first.index(cell.format(2))
