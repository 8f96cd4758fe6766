"""Rosters and reports are cached in Redis behind a generation key, and stay correct without Redis."""

import pytest
from django.urls import reverse

from attendance.selectors import roster_for_session
from attendance.services import mark_manually, unmark
from attendx.cache import get_redis_client

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(session):
    return {line.username: line.status for line in roster_for_session(session)}


def test_a_roster_is_cached_and_a_change_invalidates_it(classroom, staff, django_assert_max_num_queries):
    session = classroom.session
    assert statuses(session)["amy_adams"] == "expected"
    assert get_redis_client().count_pattern("report:*") == 1
    with django_assert_max_num_queries(0):
        statuses(session)
    mark_manually(session=session, person=classroom.people["amy_adams"], status="present", by=staff)
    assert statuses(session)["amy_adams"] == "present"
    unmark(session=session, person=classroom.people["amy_adams"], by=staff)
    assert statuses(session)["amy_adams"] == "expected"


def test_rosters_stay_correct_without_redis(classroom, staff, redis_refused):
    session = classroom.session
    assert statuses(session)["amy_adams"] == "expected"
    mark_manually(session=session, person=classroom.people["amy_adams"], status="late", by=staff)
    assert statuses(session)["amy_adams"] == "late"


def test_a_change_made_while_redis_was_down_is_seen_after_it_returns(classroom, staff, redis_server, settings):
    import time

    session = classroom.session
    assert statuses(session)["amy_adams"] == "expected"  # cached under the current generation
    redis_server.pause(1)
    mark_manually(session=session, person=classroom.people["amy_adams"], status="present", by=staff)
    time.sleep(1.1 + settings.REDIS_RETRY_INTERVAL)
    assert statuses(session)["amy_adams"] == "present"


def test_the_roster_page_uses_the_cache(client, staff, classroom):
    client.force_login(staff)
    url = reverse("attendance:session", args=[classroom.session.pk])
    assert client.get(url).status_code == 200
    assert get_redis_client().count_pattern("report:*") == 1


def test_a_busy_day_list_is_a_few_queries_and_one_report_key(
    client, staff, user_factory, django_assert_max_num_queries
):
    """430 sessions today: the list counts every roster in bulk, and a check-in rewrites one key, not 860."""
    from datetime import timedelta

    from django.utils import timezone

    from attendance.models import Group, Record, Session, Status
    from attendance.selectors import day_start, day_summaries

    people = [user_factory() for _ in range(4)]
    groups = [Group.objects.create(name=f"Class {n}") for n in range(43)]
    for group in groups:
        group.members.set(people[:3])
    start = max(day_start(timezone.localdate()), timezone.now() - timedelta(hours=1))
    Session.objects.bulk_create(
        Session(group=groups[n % 43], title=f"S{n}", starts_at=start, ends_at=start + timedelta(hours=2))
        for n in range(430)
    )
    first = Session.objects.order_by("pk").first()
    Record.objects.create(session=first, person=people[0], status=Status.LATE)
    Record.objects.create(session=first, person=people[3], status=Status.PRESENT)  # not a member: still counted
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("attendance:sessions"))
    assert page.status_code == 200
    summary = dict(day_summaries(timezone.localdate()))[first]
    assert summary == {"present": 1, "late": 1, "excused": 0, "absent": 0, "expected": 2}
    mark_manually(session=first, person=people[1], status="present", by=staff)
    keys_before = get_redis_client().count_pattern("report:*")
    assert client.get(reverse("attendance:sessions")).status_code == 200
    assert get_redis_client().count_pattern("report:*") - keys_before <= 1
    assert dict(day_summaries(timezone.localdate()))[first]["present"] == 2


def test_a_cached_roster_and_history_read_back_as_they_were_computed(classroom, staff, django_assert_num_queries):
    """Times come back from Redis as the same aware datetimes, not as text a page would have to parse."""
    from attendance.selectors import person_history

    amy = classroom.people["amy_adams"]
    mark_manually(session=classroom.session, person=amy, status="late", by=staff, note="bus")
    computed, history = roster_for_session(classroom.session), person_history(amy)
    with django_assert_num_queries(0):
        assert roster_for_session(classroom.session) == computed
        assert person_history(amy) == history
    line = next(line for line in computed if line.username == "amy_adams")
    assert line.arrived_at == line.marked_at and line.arrived_at.tzinfo is not None and line.note == "bus"
    classroom.session.refresh_from_db()  # as stored: MongoDB keeps milliseconds
    assert history.rows[0].starts_at == classroom.session.starts_at and history.rate == 1.0
