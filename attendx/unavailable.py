"""Intended 503s: a known cause (not ready, rate-limit store down, recognition unavailable) is logged once
as a warning when it starts and once when it ends, not as ``ERROR django.request`` on every request.

Views that answer 503 on purpose call ``answered_unavailable(request, cause, detail)``; the
``QuietIntendedUnavailable`` filter on the ``django.request`` logger drops Django's own line for them.
Unintended 503s, and every 500, are still logged by Django as errors.
"""

import logging
import threading
import time

logger = logging.getLogger(__name__)

RECOGNITION = "Face recognition"
RATE_LIMIT_STORE = "The rate-limit store"
READINESS = "Readiness"

_REQUEST_MARK = "attendx_unavailable_cause"
_since: dict[str, float] = {}
_lock = threading.Lock()


def note_unavailable(cause: str, detail: str) -> None:
    """``cause`` is unavailable: a warning the first time, nothing while it lasts."""
    with _lock:
        if cause in _since:
            return
        _since[cause] = time.monotonic()
    logger.warning("%s: unavailable (%s); answering 503 until it is back", cause, detail)


def note_available(cause: str) -> None:
    if cause not in _since:
        return
    with _lock:
        started = _since.pop(cause, None)
    if started is not None:
        logger.info("%s: available again after %.1f s", cause, time.monotonic() - started)


def answered_unavailable(request, cause: str, detail: str) -> None:
    """This request is answered 503 on purpose, because of ``cause``."""
    setattr(request, _REQUEST_MARK, cause)
    note_unavailable(cause, detail)


class QuietIntendedUnavailable(logging.Filter):
    """Drops ``django.request``'s record of a 503 that a view answered on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (getattr(record, "status_code", None) == 503 and getattr(request, _REQUEST_MARK, None))
