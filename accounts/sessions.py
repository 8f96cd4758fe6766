"""Sessions: Django's ``cached_db`` store (Redis a read cache, the database the truth), with every Redis call
guarded and a session cache epoch in every key. A write or delete that cannot reach Redis bumps the epoch and so
orphans every cached copy: a logout during a stall never comes back to life when Redis recovers.
"""

import threading
import time
from contextlib import contextmanager

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.core.cache import caches

from attendx.cache import guarded

_epoch_lock = threading.Lock()
_epoch = {"value": None, "read_at": 0.0}


def current_epoch() -> int:
    from accounts.models import SessionCacheEpoch

    now = time.monotonic()
    if _epoch["value"] is None or now - _epoch["read_at"] >= settings.SESSION_EPOCH_RECHECK_SECONDS:
        value = SessionCacheEpoch.objects.current()
        with _epoch_lock:
            _epoch.update(value=value, read_at=now)
    return _epoch["value"]


def invalidate_session_cache() -> int:
    """Orphan every cached session; called when a session write could not reach Redis."""
    from accounts.models import SessionCacheEpoch

    value = SessionCacheEpoch.objects.bump()
    with _epoch_lock:
        _epoch.update(value=value, read_at=time.monotonic())
    return value


class _GuardedCache:
    """The few cache calls ``cached_db`` makes, guarded: with Redis down a read misses and a write fails.

    A write or delete that fails inside ``writes_must_land()`` bumps the epoch; a failed refill after a
    database read needs no bump (the database copy is the newest).
    """

    def __init__(self, alias: str):
        self.alias = alias
        self._must_land = False

    @property
    def _cache(self):
        return caches[self.alias]

    def get(self, key, default=None):
        return guarded(self.alias, lambda: self._cache.get(key, default), fallback=default)

    def __contains__(self, key) -> bool:
        return guarded(self.alias, lambda: self._cache.has_key(key), fallback=False)

    def set(self, key, value, timeout) -> None:
        self._write(lambda: self._cache.set(key, value, timeout))

    def delete(self, key) -> None:
        self._write(lambda: self._cache.delete(key))

    def _write(self, operation) -> None:
        reached = guarded(self.alias, lambda: operation() or True, fallback=False)
        if reached is False and self._must_land:
            invalidate_session_cache()

    @contextmanager
    def writes_must_land(self):
        outer, self._must_land = self._must_land, True
        try:
            yield
        finally:
            self._must_land = outer


class SessionStore(CachedDBStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _GuardedCache(settings.SESSION_CACHE_ALIAS)

    @property
    def cache_key_prefix(self) -> str:
        return f"session:{current_epoch()}:"

    def save(self, must_create=False):
        with self._cache.writes_must_land():
            super().save(must_create)

    def delete(self, session_key=None):
        with self._cache.writes_must_land():
            super().delete(session_key)

    # The epoch is a database read, which async code may not make: the async API runs the sync one.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)

    async def asave(self, must_create=False):
        await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        await sync_to_async(self.delete)(session_key)
