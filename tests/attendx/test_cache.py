"""The Redis helper API against a real redis-server: up, refused, stalled, and back again."""

import json
import logging
import time

import pytest

from attendx.cache import (
    FALLBACK_WARNING,
    bump_generation,
    cache_clear,
    cache_delete,
    cache_get,
    cache_set,
    current_generation,
    get_redis_client,
)

pytestmark = pytest.mark.database_independent


def every_helper(client):
    """Call each helper once; return what each returned."""
    return {
        "get": client.get("user:1"),
        "set": client.set("user:1", {"name": "Ada"}, expire=60),
        "delete": client.delete("user:1"),
        "exists": client.exists("user:1"),
        "incr": client.incr("counter", 2),
        "expire": client.expire("counter", 60),
        "get_ttl": client.get_ttl("counter"),
        "get_many": client.get_many(["a", "b"]),
        "set_many": client.set_many({"a": 1, "b": 2}, expire=60),
        "clear_pattern": client.clear_pattern("user:*"),
        "cache_get": cache_get("user:1"),
        "cache_set": cache_set("user:1", [1, 2], expire=60),
        "cache_delete": cache_delete("user:1"),
        "cache_clear": cache_clear("*"),
        "is_connected": client.is_connected,
    }


DOWN = {
    "get": None,
    "set": False,
    "delete": False,
    "exists": False,
    "incr": None,
    "expire": False,
    "get_ttl": None,
    "get_many": None,
    "set_many": False,
    "clear_pattern": None,
    "cache_get": None,
    "cache_set": False,
    "cache_delete": False,
    "cache_clear": None,
    "is_connected": False,
}


def fallback_warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and FALLBACK_WARNING in r.getMessage()]


class TestHelpersOnRealRedis:
    def test_set_get_delete_exists(self):
        client = get_redis_client()
        assert client.is_connected
        assert client.set("user:123", {"name": "John", "email": "john@example.com"}, expire=3600)
        assert client.get("user:123") == {"name": "John", "email": "john@example.com"}
        assert client.exists("user:123")
        assert client.delete("user:123")
        assert client.get("user:123") is None
        assert not client.exists("user:123")
        assert not client.delete("user:123")

    def test_the_module_helpers_use_the_shared_client(self):
        assert get_redis_client() is get_redis_client()
        assert cache_set("user:9", {"name": "Ada"}, expire=60)
        assert cache_get("user:9") == get_redis_client().get("user:9") == {"name": "Ada"}
        assert cache_delete("user:9")
        assert not cache_delete("user:9")
        assert cache_get("user:9") is None

    def test_values_are_json_under_the_namespace(self, shared_redis):
        cache_set("user:7", {"roles": ["member"], "n": 1.5}, expire=60)
        raw_keys = [key.decode() for key in shared_redis.keys("*")]
        assert raw_keys == ["attendx:1:user:7"]
        assert json.loads(shared_redis.get("attendx:1:user:7")) == {"roles": ["member"], "n": 1.5}

    def test_values_that_are_not_json_are_refused(self):
        with pytest.raises(TypeError):
            cache_set("user:8", object())

    def test_every_write_has_an_expiry(self, shared_redis, settings):
        client = get_redis_client()
        client.set("plain", "value")
        client.set_many({"m1": 1, "m2": 2})
        client.incr("counter")
        cache_set("module", True)
        ttls = {key.decode(): shared_redis.ttl(key) for key in shared_redis.keys("*")}
        assert len(ttls) == 5
        assert all(0 < ttl <= settings.REDIS_DEFAULT_EXPIRE for ttl in ttls.values()), ttls

    def test_expiry_is_honoured(self):
        client = get_redis_client()
        client.set("short", "lived", expire=1)
        assert 0 < client.get_ttl("short") <= 1
        time.sleep(1.2)
        assert client.get("short") is None
        assert client.get_ttl("short") is None

    def test_a_write_without_a_positive_expiry_is_refused(self):
        with pytest.raises(ValueError, match="positive"):
            get_redis_client().set("forever", 1, expire=0)

    def test_incr_creates_counts_and_keeps_the_first_expiry(self):
        client = get_redis_client()
        assert client.incr("visits", expire=100) == 1
        assert client.incr("visits", 5) == 6
        assert client.get("visits") == 6
        assert 90 < client.get_ttl("visits") <= 100

    def test_incr_of_a_value_that_is_not_an_integer_is_refused_and_redis_stays_in_use(self, caplog):
        client = get_redis_client()
        client.set("word", "abc", expire=60)
        with pytest.raises(ValueError, match="integer"):
            client.incr("word")
        assert client.get("word") == "abc"
        assert client.incr("visits", -2) == -2
        assert fallback_warnings(caplog) == []

    def test_expire_and_get_ttl(self):
        client = get_redis_client()
        client.set("k", "v", expire=1000)
        assert client.expire("k", 30)
        assert 25 < client.get_ttl("k") <= 30
        assert not client.expire("missing", 30)
        assert client.get_ttl("missing") is None

    def test_get_many_and_set_many(self):
        client = get_redis_client()
        assert client.set_many({"key1": "value1", "key2": {"n": 2}}, expire=600)
        assert client.get_many(["key1", "key2", "key3"]) == {"key1": "value1", "key2": {"n": 2}}
        assert client.get_many(["key3"]) == {}  # nothing found, where None would mean Redis is down
        assert 590 < client.get_ttl("key2") <= 600

    def test_clear_pattern_only_touches_matching_keys_of_our_namespace(self, shared_redis):
        client = get_redis_client()
        client.set_many({"user:1": 1, "user:2": 2, "emb:abc": [0.1]}, expire=60)
        shared_redis.set("other-app:user:1", "theirs")
        assert client.count_pattern("user:*") == 2
        assert client.clear_pattern("user:*") == 2
        assert client.get("emb:abc") == [0.1]
        assert shared_redis.get("other-app:user:1") == b"theirs"
        assert cache_clear("*") == 1
        assert shared_redis.exists("other-app:user:1")

    def test_add_writes_only_a_key_that_is_not_there(self):
        client = get_redis_client()
        assert client.add("lock", "first", expire=60)
        assert not client.add("lock", "second", expire=60)
        assert client.get("lock") == "first"
        assert client.clear_pattern("nothing:*") == 0

    def test_a_generation_bump_gives_a_new_token(self):
        first = current_generation("report")
        assert first and current_generation("report") == first
        bump_generation("report")
        assert current_generation("report") not in (None, first)

    def test_key_counts_by_namespace(self):
        client = get_redis_client()
        client.set_many({"user:1": 1, "user:2": 2, "emb:abc": [0.1]}, expire=60)
        assert client.key_counts_by_namespace() == {"emb": 1, "user": 2}


class TestRedisRefused:
    def test_every_helper_degrades_quickly_with_one_warning(self, redis_refused, caplog):
        client = get_redis_client()
        started = time.monotonic()
        for _ in range(3):
            assert every_helper(client) == DOWN
        assert time.monotonic() - started < 1.0
        assert len(fallback_warnings(caplog)) == 1

    def test_without_redis_there_is_no_generation_to_trust(self, redis_refused):
        assert current_generation("report") is None  # skip the cache

    def test_recovers_by_itself_when_redis_comes_back(self, redis_refused, settings, caplog):
        from tests.conftest import RedisServer

        client = get_redis_client()
        assert client.get("user:1") is None
        server = RedisServer(redis_refused).start()
        try:
            time.sleep(settings.REDIS_RETRY_INTERVAL + 0.1)
            assert client.set("user:1", "back", expire=60)
            assert client.get("user:1") == "back"
            assert client.is_connected
            assert any("caching resumed" in r.getMessage() for r in caplog.records)
        finally:
            server.stop()


class TestRedisStalled:
    def test_every_helper_returns_within_bounded_time(self, redis_server, caplog):
        client = get_redis_client()
        assert client.set("user:1", "before", expire=60)
        redis_server.pause(3)
        started = time.monotonic()
        for _ in range(3):
            assert every_helper(client) == DOWN
        elapsed = time.monotonic() - started
        # One socket timeout (0.25 s) at most; then the breaker answers without waiting.
        assert elapsed < 1.0, elapsed
        assert len(fallback_warnings(caplog)) == 1

    def test_recovers_after_the_stall(self, redis_server, settings):
        client = get_redis_client()
        redis_server.pause(1)
        assert client.get("user:1") is None
        time.sleep(1.2 + settings.REDIS_RETRY_INTERVAL)
        assert client.set("user:1", "after", expire=60)
        assert client.get("user:1") == "after"
