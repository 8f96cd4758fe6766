"""One transaction wrapper for every database AttendX runs on.

Services wrap their writes in ``atomic()`` and never import ``django.db.transaction`` for it, so the
MongoDB backend can supply its own real transactions here.
"""

from django.db import transaction


def atomic(using=None):
    return transaction.atomic(using=using)


def on_commit(callback, using=None):
    transaction.on_commit(callback, using=using)
