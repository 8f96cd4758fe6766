"""One transaction wrapper for every database AttendX runs on.

Services wrap their writes in ``atomic()`` (or ``run_in_transaction()``) and never import
``django.db.transaction`` for it: Django's ``atomic()`` is a no-op on django-mongodb-backend, so on
MongoDB these open the backend's real multi-document transaction instead (MongoDB has them on replica
sets, which docker-compose runs).
"""

import logging
import random
import time
from contextlib import ContextDecorator

import pymongo
from asgiref.local import Local
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

logger = logging.getLogger(__name__)

# The django-mongodb-backend release that _exit_mongo_atomic() was written against; the system check
# attendx.E003 refuses any other while a MongoDB database is configured.
MONGO_BACKEND_VERSION = "5.2.4"

_serves_transactions: dict[str, bool] = {}
# Our own count of open MongoDB atomic() blocks per connection, kept like Django keeps connections.
_mongo_depth = Local(thread_critical=True)


def _has_mongo_transactions(connection) -> bool:
    if connection.vendor != "mongodb":
        return False
    if connection.alias not in _serves_transactions:
        connection.ensure_connection()
        hello = connection.connection.admin.command("hello")
        # Transactions need a replica set member or a sharded cluster's router (mongos).
        _serves_transactions[connection.alias] = "setName" in hello or hello.get("msg") == "isdbgrid"
        if not _serves_transactions[connection.alias]:
            logger.warning("MongoDB is not a replica set: writes are not transactional (see docs/mongodb.md)")
    return _serves_transactions[connection.alias]


def _exit_mongo_atomic(backend_atomic, connection, exc_type, exc_value, traceback):
    """Leave the backend's ``atomic()``. Every use of django-mongodb-backend internals is here."""
    # Inside Django's own atomic() (the admin wraps its views in one): a no-op on MongoDB that still
    # marks the connection, and the backend would commit ours, then refuse to run the on_commit
    # callbacks ("forbidden when an 'atomic' block is active"). Ours is the real transaction.
    inside_django_atomic = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        return backend_atomic.__exit__(exc_type, exc_value, traceback)
    except pymongo.errors.PyMongoError as error:
        # A failed commit. The backend keeps the finished session, and every later atomic() on this
        # connection would then run without a transaction: end it here.
        session, connection.session = connection.session, None
        if session is not None:
            session.end_session()
        connection.run_on_commit = []
        raise DatabaseError(f"The MongoDB transaction did not commit: {error}") from error
    finally:
        connection.in_atomic_block = inside_django_atomic


class _Atomic(ContextDecorator):
    # Chooses on first entry, not when created: ``@atomic()`` on a function must not connect at import.
    # Both inner context managers keep their state on the connection, so one serves every entry.
    def __init__(self, using):
        self.using = using or DEFAULT_DB_ALIAS
        self._inner = None
        self._mongo = False

    def __enter__(self):
        if self._inner is None:
            connection = connections[self.using]
            self._mongo = _has_mongo_transactions(connection)
            if self._mongo:
                from django_mongodb_backend import transaction as mongo_transaction

                self._inner = mongo_transaction.atomic(self.using)
            else:
                self._inner = transaction.atomic(using=self.using)
        if not self._mongo:
            return self._inner.__enter__()
        entered = self._inner.__enter__()
        setattr(_mongo_depth, self.using, getattr(_mongo_depth, self.using, 0) + 1)
        return entered

    def __exit__(self, exc_type, exc_value, traceback):
        if not self._mongo:
            return self._inner.__exit__(exc_type, exc_value, traceback)
        setattr(_mongo_depth, self.using, getattr(_mongo_depth, self.using) - 1)
        return _exit_mongo_atomic(self._inner, connections[self.using], exc_type, exc_value, traceback)


def atomic(using=None):
    """All or nothing, on SQLite and on MongoDB; a context manager or a decorator, ``@atomic()``."""
    return _Atomic(using)


def in_transaction(using=None) -> bool:
    using = using or DEFAULT_DB_ALIAS
    connection = connections[using]
    if connection.vendor == "mongodb":
        # Django's own atomic() blocks (the admin's) are no-ops there: only ours count.
        return getattr(_mongo_depth, using, 0) > 0
    return connection.in_atomic_block


def is_transient_conflict(error: BaseException) -> bool:
    """Whether the database says ``error`` ends a transaction that will succeed if run again.

    MongoDB labels these TransientTransactionError: a write conflict with a concurrent transaction, or
    any statement after the transaction was aborted (a duplicate key aborts the whole transaction).
    """
    while error is not None:
        # pymongo's errors carry the server's labels; Django's DatabaseError wraps them as __cause__.
        if hasattr(error, "has_error_label") and error.has_error_label("TransientTransactionError"):
            return True
        error = error.__cause__
    return False


def run_in_transaction(write, *, using=None, attempts=5):
    """Return ``write()``, run all or nothing, and run again from the start after a transient conflict.

    MongoDB has no savepoints and no locks to wait on: a transaction that meets a concurrent one is
    aborted whole, and its driver's advice is to run it again, as this does (SQLite transactions here
    take the write lock when they begin, so they wait instead). ``write`` must therefore read what it
    decides on inside, find existing rows by reading rather than by catching IntegrityError, and leave
    nothing outside the database before it commits (``on_commit`` callbacks are discarded with a failed
    attempt). Inside an enclosing transaction it runs once: the outermost one is retried.
    """
    if in_transaction(using):
        with atomic(using):
            return write()
    for attempt in range(1, attempts):
        try:
            with atomic(using):
                return write()
        except DatabaseError as error:
            if not is_transient_conflict(error):
                raise
        # Randomised, growing pauses let the transaction that won commit before this one runs again.
        time.sleep(random.uniform(0.005, 0.02 * 2**attempt))  # noqa: S311 - not cryptographic
    with atomic(using):
        return write()


def on_commit(callback, using=None):
    """Run ``callback`` after the current ``atomic()`` block commits, or now outside of one."""
    transaction.on_commit(callback, using=using)


def is_reachable(using=None, *, timeout=2.0) -> bool:
    """Whether the database answers a trivial query within about ``timeout`` seconds."""
    connection = connections[using or DEFAULT_DB_ALIAS]
    try:
        if connection.vendor == "mongodb":
            with pymongo.timeout(timeout):
                connection.ensure_connection()
                connection.connection.admin.command("ping")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True
