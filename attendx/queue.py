"""Publishing work to the Celery broker, with one failure the callers know: ``QueueUnavailable``.

The broker is Redis (database 1 by default). When it cannot be reached a publish gives up after a
couple of quick tries instead of blocking the request; the caller undoes what it prepared and tells
staff to try again. Nothing already queued is touched.
"""

import logging

from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError

from attendx import unavailable

logger = logging.getLogger(__name__)

QUEUE = "The task queue"
# Two quick retries ride over a blip; a refused connection fails in milliseconds each time.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class QueueUnavailable(RuntimeError):
    message = gettext_lazy("The task queue is unavailable right now: nothing was queued. Please try again in a minute.")


def enqueue(task, *args, **kwargs) -> None:
    """Publish ``task(*args, **kwargs)``; raise QueueUnavailable when the broker cannot take it."""
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=True, retry_policy=RETRY_POLICY)
    except OperationalError as error:
        unavailable.note_unavailable(QUEUE, str(error))
        raise QueueUnavailable(str(QueueUnavailable.message)) from error
    unavailable.note_available(QUEUE)


def requeue_overdue(overdue, *, queue, moment, what: str, most: int = 500) -> int:
    """Queue again, with ``queue(pk)``, the rows of ``overdue`` (a queryset of rows with a
    ``next_attempt_at``, oldest first) whose message was lost or never published; return how many.

    Each row is claimed by moving its ``next_attempt_at`` to ``moment``, so only one sweep queues it and
    the next not before it is overdue again. Stops at the first row the broker refuses.
    """
    queued = 0
    for row in overdue.only("pk", "next_attempt_at")[:most]:
        claimed = overdue.model.objects.filter(pk=row.pk, next_attempt_at=row.next_attempt_at)
        if not claimed.update(next_attempt_at=moment):
            continue
        if not queue(row.pk):
            break
        queued += 1
    if queued:
        logger.info("Queued %d overdue %s again", queued, what)
    return queued
