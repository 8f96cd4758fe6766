"""Sessions live in Redis, are written through to the database, and survive Redis trouble."""

import time

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import SessionCacheEpoch
from tests.conftest import run_together
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(client, user):
    response = client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client.cookies["sessionid"].value


def is_signed_in(client) -> bool:
    response = client.get(reverse("home"))
    return response.status_code == 200


def test_a_session_is_stored_in_redis_and_in_the_database(client, member, redis_server):
    session_key = sign_in(client, member)
    cached = [key.decode() for key in redis_server.client().keys("*session*")]
    assert len(cached) == 1 and cached[0].endswith(session_key)
    assert Session.objects.filter(session_key=session_key).exists()


def test_signed_in_pages_are_served_from_redis(client, member, redis_server, django_assert_max_num_queries):
    sign_in(client, member)
    is_signed_in(client)
    # One query for the user and one for the session cache epoch; none for the session itself.
    with django_assert_max_num_queries(2):
        assert is_signed_in(client)


def test_login_survives_a_redis_restart(client, member, redis_server):
    sign_in(client, member)
    redis_server.restart()
    assert redis_server.client().dbsize() == 0
    assert is_signed_in(client)


def test_login_survives_redis_being_down(client, member, redis_server):
    sign_in(client, member)
    redis_server.stop()
    assert is_signed_in(client)


def test_a_logout_during_a_stall_stays_a_logout_after_recovery(client, member, redis_server, settings):
    old_cookie = sign_in(client, member)
    redis_server.pause(2)
    started = time.monotonic()
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert time.monotonic() - started < 1.5
    time.sleep(2.2 + settings.REDIS_RETRY_INTERVAL)
    # The delete never reached Redis: the stale copy is still there, and must never be served again.
    assert redis_server.client().keys(f"*{old_cookie}")
    client.cookies["sessionid"] = old_cookie
    assert not is_signed_in(client)
    assert not Session.objects.filter(session_key=old_cookie).exists()


def test_sign_in_while_redis_is_down_works_and_is_cached_after_recovery(client, member, redis_server, settings):
    redis_server.stop()
    sign_in(client, member)
    assert is_signed_in(client)
    redis_server.start()
    time.sleep(settings.REDIS_RETRY_INTERVAL + 0.1)
    assert is_signed_in(client)
    assert redis_server.client().keys("*session*")


def test_concurrent_epoch_bumps_are_all_counted():
    start = SessionCacheEpoch.objects.current()

    def bump_five_times():
        for _ in range(5):
            SessionCacheEpoch.objects.bump()

    assert run_together(*[bump_five_times] * 4) == [None] * 4
    assert SessionCacheEpoch.objects.current() == start + 20


def test_reading_sessions_while_redis_is_down_writes_nothing_to_the_database(client, member, redis_server):
    sign_in(client, member)
    redis_server.stop()
    epoch = SessionCacheEpoch.objects.current()
    assert is_signed_in(client)
    assert is_signed_in(client)
    assert SessionCacheEpoch.objects.current() == epoch  # a refill that failed leaves nothing stale
    client.post(reverse("accounts:logout"))
    assert SessionCacheEpoch.objects.current() > epoch  # a delete that failed does


def test_the_async_session_api_reads_and_writes_the_same_sessions(redis_server):
    from accounts.sessions import SessionStore

    store = SessionStore()
    store["answer"] = 42
    async_to_sync(store.asave)()
    assert SessionStore(store.session_key).load() == {"answer": 42}
    assert async_to_sync(SessionStore(store.session_key).aexists)(store.session_key)
    again = SessionStore(store.session_key)
    assert async_to_sync(again.aload)() == {"answer": 42}
    async_to_sync(again.adelete)()
    assert not Session.objects.filter(session_key=store.session_key).exists()
    assert async_to_sync(SessionStore(store.session_key).aload)() == {}
