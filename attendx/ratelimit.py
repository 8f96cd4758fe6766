"""django-ratelimit on the Redis ``ratelimit`` alias, with the answers AttendX promises.

Over the limit: 429 with ``Retry-After`` (an HTML page, or JSON for API calls). With the store
down: 503 with ``Retry-After``; never a 500 and never unlimited, which is what django-ratelimit's
own fail-open and fail-closed modes would give. Views that must keep working without Redis (the
check-in API: an attendance mark outweighs a shared limit) ask for ``store_down="local"``: the same
limit is then counted in this process alone.
"""

import functools
import logging
import threading
import time

from django.conf import settings
from django.utils.translation import gettext as _
from django_ratelimit.core import _SIMPLE_KEYS, _get_window, _method_match, _split_rate, get_usage

from attendx import unavailable
from attendx.cache import REDIS_ERRORS, availability_for
from attendx.refusals import refusal
from attendx.unavailable import answered_unavailable

logger = logging.getLogger(__name__)

_UNAVAILABLE = object()


def too_many_requests(request, retry_after: int):
    return refusal(
        request,
        status=429,
        retry_after=retry_after,
        code="rate_limited",
        detail=_("Too many attempts. Please wait before trying again."),
    )


def limiter_unavailable(request):
    answered_unavailable(request, unavailable.RATE_LIMIT_STORE, "Redis cannot be reached")
    return refusal(
        request,
        status=503,
        retry_after=settings.RATELIMIT_UNAVAILABLE_RETRY_AFTER,
        code="rate_limit_unavailable",
        detail=_("This service is briefly unavailable. Please try again shortly."),
    )


def _usage(request, *, group, fn, key, rate, method):
    alias = settings.RATELIMIT_USE_CACHE
    state = availability_for(alias)
    if not state.should_try():
        return _UNAVAILABLE
    try:
        usage = get_usage(request, group=group, fn=fn, key=key, rate=rate, method=method, increment=True)
    except REDIS_ERRORS as exc:
        state.record_failure(exc)
        return _UNAVAILABLE
    state.record_success()
    unavailable.note_available(unavailable.RATE_LIMIT_STORE)
    if usage is not None and usage["time_left"] < 0:
        # django-ratelimit could not read the counter back.
        return _UNAVAILABLE
    return usage


class LocalCounter:
    """Fixed-window counts in this process, for when the shared store is down.

    Uses django-ratelimit's own window and key helpers (private in 4.1, which requirements pin) so a
    local window lines up with the shared one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[tuple, int] = {}

    def usage(self, request, *, group, fn, key, rate, method):
        if not _method_match(request, method):
            return None
        group = group or f"{fn.__module__}.{fn.__qualname__}"
        rate = rate(group, request) if callable(rate) else rate
        limit, period = _split_rate(rate)
        value = _SIMPLE_KEYS[key](request)
        window = _get_window(value, period)
        with self._lock:
            now = int(time.time())
            self._counts = {k: v for k, v in self._counts.items() if k[-1] > now}
            slot = (group, value, window)
            self._counts[slot] = count = self._counts.get(slot, 0) + 1
        return {"count": count, "limit": limit, "should_limit": count > limit, "time_left": window - now}


local_counter = LocalCounter()


def ratelimit(*, rate, key="user_or_ip", group=None, method=("POST",), store_down="refuse"):
    """Limit a view; ``rate`` is django-ratelimit's (``"5/h"``, a callable or a dotted path).

    Only requests whose method is in ``method`` (None: every method) are counted, or refused while the
    store is down. ``store_down``: "refuse" answers 503 while Redis is down; "local" counts in this
    process instead.
    """
    if store_down not in ("refuse", "local"):
        raise ValueError("store_down must be 'refuse' or 'local'")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if method is not None and request.method not in method:
                return view(request, *args, **kwargs)  # not limited: the store is not even asked
            usage = _usage(request, group=group, fn=view, key=key, rate=rate, method=method)
            if usage is _UNAVAILABLE and store_down == "local":
                usage = local_counter.usage(request, group=group, fn=view, key=key, rate=rate, method=method)
            if usage is _UNAVAILABLE:
                return limiter_unavailable(request)
            if usage is not None and usage["should_limit"]:
                logger.info("Rate limit hit on %s by %s", request.path, getattr(request.user, "pk", None))
                return too_many_requests(request, max(1, usage["time_left"]))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def rate_from_setting(name: str, key: str | None = None):
    """A rate read from settings at request time, so tests and deployments can change it: the setting
    ``name``, or its ``key`` when it is a dict (``rate_from_setting("DEVICES", "PAIR_RATE")``)."""

    def rate(group, request):
        value = getattr(settings, name)
        return value if key is None else value[key]

    return rate
