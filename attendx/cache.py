"""The Redis helper API of the AttendX Redis guide, on top of django-redis.

Every helper degrades instead of raising: with Redis refused or stalled it returns None (or
False for yes/no answers), one warning "Running without Redis caching" is logged per outage, and
Redis is left alone for ``REDIS_RETRY_INTERVAL`` seconds before the next attempt, so a dead server
costs a request at most one socket timeout. Values are JSON; every write carries an expiry.
"""

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

FALLBACK_WARNING = "Running without Redis caching"
REDIS_ERRORS = (RedisError, ConnectionInterrupted, OSError)

# INCRBY and a default expiry in one atomic step, so a counter can never live forever. A value that is
# not an integer answers nil: Redis's own error would pass for an outage.
_INCR_WITH_EXPIRY = """
local current = redis.call('GET', KEYS[1])
if current and not string.match(current, '^%-?%d+$') then return nil end
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return value
"""


class RedisAvailability:
    """One process's view of one Redis server: up, or down until the next retry."""

    def __init__(self, location: str):
        self.location = location
        self._lock = threading.Lock()
        self._down_since: float | None = None  # this process's first failure of the outage
        self._last_failure = 0.0
        self._retry_at = 0.0

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + settings.REDIS_RETRY_INTERVAL
            self._last_failure = now
            if self._down_since is None:
                self._down_since = now
                logger.warning("%s: %s unreachable (%s)", FALLBACK_WARNING, self.location, exc)

    def record_success(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is not None:
                # The process only sees Redis when it asks: the outage ended between its last failure and
                # now, which may be long after when the process is idle.
                now = time.monotonic()
                at_least, at_most = self._last_failure - self._down_since, now - self._down_since
                self._down_since = None
                logger.info(
                    "Redis at %s is back; caching resumed. Seen from this process the outage lasted "
                    "%.1f to %.1f s (from its first failed call to its last, and to this first success)",
                    self.location,
                    at_least,
                    at_most,
                )


_availability: dict[str, RedisAvailability] = {}
_availability_lock = threading.Lock()


def availability_for(alias: str) -> RedisAvailability:
    location = str(settings.CACHES[alias]["LOCATION"])
    with _availability_lock:
        if location not in _availability:
            _availability[location] = RedisAvailability(location)
        return _availability[location]


def guarded(alias: str, operation: Callable[[], Any], *, fallback: Any = None) -> Any:
    """Run ``operation`` against Redis unless it is known down; on a Redis error return ``fallback``."""
    state = availability_for(alias)
    if not state.should_try():
        return fallback
    try:
        result = operation()
    except REDIS_ERRORS as exc:
        state.record_failure(exc)
        return fallback
    state.record_success()
    return result


def _expiry(expire: int | None) -> int:
    if expire is None:
        return settings.REDIS_DEFAULT_EXPIRE
    if int(expire) <= 0:
        raise ValueError("expire must be a positive number of seconds")
    return int(expire)


class RedisClient:
    """The guide's client: namespaced JSON values with expiries, safe when Redis is down."""

    def __init__(self, alias: str = "default"):
        self.alias = alias

    @property
    def cache(self):
        return caches[self.alias]

    def _raw(self):
        return self.cache.client.get_client(write=True)

    def _call(self, operation: Callable[[], Any], fallback: Any = None) -> Any:
        return guarded(self.alias, operation, fallback=fallback)

    @property
    def is_connected(self) -> bool:
        return bool(self._call(lambda: self._raw().ping(), fallback=False))

    def get(self, key: str) -> Any:
        return self._call(lambda: self.cache.get(key))

    def set(self, key: str, value: Any, expire: int | None = None) -> bool:
        timeout = _expiry(expire)
        return bool(self._call(lambda: self.cache.set(key, value, timeout), fallback=False))

    def add(self, key: str, value: Any, expire: int | None = None) -> bool:
        """Set only when the key does not exist yet."""
        timeout = _expiry(expire)
        return bool(self._call(lambda: self.cache.add(key, value, timeout), fallback=False))

    def delete(self, key: str) -> bool:
        return bool(self._call(lambda: self.cache.delete(key), fallback=False))

    def exists(self, key: str) -> bool:
        return bool(self._call(lambda: self.cache.has_key(key), fallback=False))

    def incr(self, key: str, amount: int = 1, expire: int | None = None) -> int | None:
        """Add ``amount`` (creating the key at 0); a new key gets ``expire`` or the default expiry.

        Raises ValueError when the key holds something other than an integer."""
        timeout = _expiry(expire)

        def operation():
            script = self._raw().register_script(_INCR_WITH_EXPIRY)
            value = script(keys=[self.cache.make_key(key)], args=[int(amount), timeout])
            if value is None:
                raise ValueError(f"{key!r} does not hold an integer")
            return int(value)

        return self._call(operation)

    def expire(self, key: str, seconds: int) -> bool:
        timeout = _expiry(seconds)
        return bool(self._call(lambda: self.cache.expire(key, timeout), fallback=False))

    def get_ttl(self, key: str) -> int | None:
        """Seconds left; None for a missing key (every key we write expires) or with Redis down."""
        ttl = self._call(lambda: self._raw().ttl(self.cache.make_key(key)))
        return ttl if ttl is not None and ttl >= 0 else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any] | None:
        keys = list(keys)
        return self._call(lambda: self.cache.get_many(keys))

    def set_many(self, mapping: Mapping[str, Any], expire: int | None = None) -> bool:
        timeout = _expiry(expire)
        failed = self._call(lambda: self.cache.set_many(dict(mapping), timeout), fallback=list(mapping))
        return not failed

    def count_pattern(self, pattern: str) -> int | None:
        return self._call(lambda: sum(1 for _ in self.cache.iter_keys(pattern)))

    def clear_pattern(self, pattern: str) -> int | None:
        """Delete the keys matching a glob pattern inside our namespace; return how many."""
        return self._call(lambda: self.cache.delete_pattern(pattern))

    def info(self) -> dict[str, Any] | None:
        return self._call(lambda: self._raw().info())

    def key_counts_by_namespace(self) -> dict[str, int] | None:
        """Keys grouped by their first segment after the prefix (``emb``, ``session``, ``rl``...)."""
        prefix = self.cache.make_key("")

        def operation():
            counts = Counter()
            for raw_key in self._raw().scan_iter(match=f"{prefix}*", count=1000):
                name = raw_key.decode()[len(prefix) :]
                counts[name.split(":", 1)[0]] += 1
            return dict(sorted(counts.items()))

        return self._call(operation)


_default_client = RedisClient()


def get_redis_client() -> RedisClient:
    return _default_client


def cache_get(key: str) -> Any:
    return _default_client.get(key)


def cache_set(key: str, value: Any, expire: int | None = None) -> bool:
    return _default_client.set(key, value, expire)


def cache_delete(key: str) -> bool:
    return _default_client.delete(key)


def cache_clear(pattern: str) -> int | None:
    return _default_client.clear_pattern(pattern)


# Generation keys: a token per kind of derived data (the gallery, the reports). Changing the data
# bumps the token, and everything cached under the old token is never read again. A bump that cannot
# reach Redis is remembered and replayed by this process before it trusts Redis for that name again.

GENERATION_TTL = 24 * 3600
_unsent_bumps: set[str] = set()
_bumps_lock = threading.Lock()


def _generation_key(name: str) -> str:
    return f"gen:{name}"


def _new_token() -> str:
    return uuid.uuid4().hex


def bump_generation(name: str) -> None:
    if not cache_set(_generation_key(name), _new_token(), expire=GENERATION_TTL):
        with _bumps_lock:
            _unsent_bumps.add(name)


def current_generation(name: str) -> str | None:
    """The token to key cached ``name`` data with; None when Redis cannot be trusted: skip the cache."""
    key = _generation_key(name)
    if name in _unsent_bumps:
        if not cache_set(key, _new_token(), expire=GENERATION_TTL):
            return None
        with _bumps_lock:
            _unsent_bumps.discard(name)
    token = cache_get(key)
    if token is None:
        token = _new_token()
        if not _default_client.add(key, token, expire=GENERATION_TTL):
            token = cache_get(key)
    return token
