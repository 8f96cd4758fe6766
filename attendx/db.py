"""One transaction wrapper for every database AttendX runs on.

Services wrap their writes in ``atomic()`` and never import ``django.db.transaction`` for it: Django's
``atomic()`` is a no-op on django-mongodb-backend, so on MongoDB this one opens the backend's real
multi-document transaction instead (MongoDB has them on replica sets, which docker-compose runs).
"""

import logging
from contextlib import ContextDecorator

from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)
_warned_without_transactions: set[str] = set()


def _atomic_for(connection):
    if connection.vendor != "mongodb":
        return transaction.atomic(using=connection.alias)
    if connection.features._supports_transactions:
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(connection.alias)
    if connection.alias not in _warned_without_transactions:
        _warned_without_transactions.add(connection.alias)
        logger.warning("MongoDB is not a replica set: writes are not transactional (see docs/mongodb.md)")
    return transaction.atomic(using=connection.alias)


class _Atomic(ContextDecorator):
    # Chooses on first entry, not when created: ``@atomic()`` on a function must not connect at import.
    def __init__(self, using):
        self.using = using or DEFAULT_DB_ALIAS
        self._inner = None

    def __enter__(self):
        if self._inner is None:
            self._inner = _atomic_for(connections[self.using])
        return self._inner.__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        return self._inner.__exit__(exc_type, exc_value, traceback)


def atomic(using=None):
    """All or nothing, on SQLite and on MongoDB; a context manager or a decorator, ``@atomic()``."""
    return _Atomic(using)


def on_commit(callback, using=None):
    """Run ``callback`` after the current ``atomic()`` block commits, or now outside of one."""
    transaction.on_commit(callback, using=using)


def is_reachable(using=None, *, timeout=2.0) -> bool:
    """Whether the database answers a trivial query within about ``timeout`` seconds."""
    connection = connections[using or DEFAULT_DB_ALIAS]
    try:
        if connection.vendor == "mongodb":
            import pymongo

            with pymongo.timeout(timeout):
                connection.ensure_connection()
                connection.connection.admin.command("ping")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True
