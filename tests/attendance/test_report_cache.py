"""Rosters and reports are cached in Redis behind a generation key, and stay correct without Redis."""

import pytest
from django.urls import reverse

from attendance.selectors import roster_for_session
from attendance.services import mark_manually, unmark
from attendx.cache import get_redis_client

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(session):
    return {line["username"]: line["status"] for line in roster_for_session(session)}


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
