"""Server-side sessions in Redis, written through to the database.

The database is the truth, Redis a read cache. When a write or delete cannot reach Redis, the
cached copy may be stale (a logout during a stall would come back to life when Redis recovers), so
we bump a session cache epoch in the database: the epoch is part of every cache key, and bumping it
orphans every entry written before. Outages are rare; re-reading sessions from the database is cheap.
"""

import threading
import time

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DBStore
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


_MISSING = object()


class SessionStore(DBStore):
    cache_alias = settings.SESSION_CACHE_ALIAS

    @property
    def _cache(self):
        return caches[self.cache_alias]

    def _cache_key_for(self, session_key: str) -> str:
        return f"session:{current_epoch()}:{session_key}"

    def _cache_write(self, operation) -> None:
        if guarded(self.cache_alias, lambda: operation() or True, fallback=False) is False:
            invalidate_session_cache()

    def load(self):
        session_key = self._get_or_create_session_key()
        cache_key = self._cache_key_for(session_key)
        data = guarded(self.cache_alias, lambda: self._cache.get(cache_key, _MISSING), fallback=_MISSING)
        if data is not _MISSING:
            return data
        stored = self._get_session_from_db()
        if stored is None:
            return {}
        data = self.decode(stored.session_data)
        age = self.get_expiry_age(expiry=stored.expire_date)
        # A failed refill leaves nothing stale behind (the database copy is the newest): no bump.
        guarded(self.cache_alias, lambda: self._cache.set(cache_key, data, age))
        return data

    def exists(self, session_key):
        if not session_key:
            return False
        cache_key = self._cache_key_for(session_key)
        if guarded(self.cache_alias, lambda: self._cache.has_key(cache_key), fallback=False):
            return True
        return super().exists(session_key)

    def save(self, must_create=False):
        super().save(must_create)
        cache_key = self._cache_key_for(self._get_or_create_session_key())
        data, age = self._session, self.get_expiry_age()
        self._cache_write(lambda: self._cache.set(cache_key, data, age))

    def delete(self, session_key=None):
        super().delete(session_key)
        session_key = session_key or self.session_key
        if session_key is None:
            return
        cache_key = self._cache_key_for(session_key)
        self._cache_write(lambda: self._cache.delete(cache_key))

    def flush(self):
        self.clear()
        self.delete(self.session_key)
        self._session_key = None
