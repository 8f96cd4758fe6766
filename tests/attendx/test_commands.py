"""clear_cache and cache_status, with Redis up and down."""

import pytest
from django.core.management import CommandError, call_command

from attendx.cache import get_redis_client


def run(name, *args):
    from io import StringIO

    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def some_keys():
    client = get_redis_client()
    client.set_many({"user:1": 1, "user:2": 2, "emb:abc": [0.5], "emb:def": [0.25], "roster:9": "x"}, expire=60)
    return client


def test_clear_cache_by_pattern(some_keys):
    assert "Removed 2 keys matching 'emb:*'." in run("clear_cache", "--pattern", "emb:*")
    assert some_keys.get("emb:abc") is None
    assert some_keys.get("user:1") == 1


def test_clear_cache_dry_run_removes_nothing(some_keys):
    assert "Would remove 5 keys matching '*'." in run("clear_cache", "--dry-run")
    assert some_keys.count_pattern("*") == 5


def test_clear_cache_everything_of_ours(some_keys, shared_redis):
    shared_redis.set("another-app:key", "kept")
    assert "Removed 5 keys" in run("clear_cache")
    assert shared_redis.keys("*") == [b"another-app:key"]


def test_cache_status_reports_the_server(some_keys, shared_redis):
    version = shared_redis.info()["redis_version"]
    output = run("cache_status")
    assert "Redis: connected" in output
    assert f"Server version: {version}" in output
    assert "Used memory:" in output
    assert "Keys in database: 5" in output
    assert "Hits:" in output and "Misses:" in output
    assert "emb" in output and "user" in output and "roster" in output


@pytest.mark.usefixtures("redis_refused")
def test_clear_cache_says_so_when_redis_is_down():
    with pytest.raises(CommandError, match="Redis is unavailable: nothing was cleared"):
        run("clear_cache", "--pattern", "emb:*")


@pytest.mark.usefixtures("redis_refused")
def test_cache_status_says_so_when_redis_is_down(capsys):
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError, match="Redis is unavailable"):
        call_command("cache_status", stdout=out)
    assert "Redis: unavailable at redis://127.0.0.1:" in out.getvalue()
    assert "running without Redis caching" in out.getvalue()
