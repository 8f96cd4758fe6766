"""The Celery application: background work on a real task queue, Redis as the broker (docs/deploy.md).

Workers run ``celery -A attendx worker``; the schedule (settings.CELERY_BEAT_SCHEDULE) runs under
``celery -A attendx beat``. Tasks live in each app's ``tasks.py``. Every task is idempotent and
acknowledged late: one that was running when its worker died is delivered again.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendx.settings.local")

app = Celery("attendx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
