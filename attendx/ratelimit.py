"""django-ratelimit on the Redis ``ratelimit`` alias, with the answers AttendX promises.

Over the limit: 429 with ``Retry-After`` (an HTML page, or JSON for API calls). With the store
down: 503 with ``Retry-After``; never a 500 and never unlimited, which is what django-ratelimit's
own fail-open and fail-closed modes would give. Views that must keep working without Redis (the
check-in API: an attendance mark outweighs a shared limit) ask for ``store_down="local"``: the same
limit is then counted in this process alone. Only django-ratelimit's public ``get_usage`` is used.
"""

import functools
import logging
import re
import threading
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

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


def _shared_usage(request, *, group, fn, key, rate, method):
    alias = settings.RATELIMIT_USE_CACHE
    state = availability_for(alias)
    if not state.should_try():
        return _UNAVAILABLE
    methods = ALL if method is None else method
    try:
        usage = get_usage(request, group=group, fn=fn, key=key, rate=rate, method=methods, increment=True)
    except REDIS_ERRORS as exc:
        state.record_failure(exc)
        return _UNAVAILABLE
    state.record_success()
    unavailable.note_available(unavailable.RATE_LIMIT_STORE)
    if usage is not None and usage["should_limit"] and usage["count"] <= usage["limit"]:
        # Limited while not over the limit: django-ratelimit failing closed (RATELIMIT_FAIL_OPEN is
        # False) because it could not count this request, as when the counter vanished under it.
        return _UNAVAILABLE
    return usage


# django-ratelimit's documented rate grammar: "X/u" or "X/Yu", u one of s, m, h, d (seconds if left out).
_RATE = re.compile(r"(\d+)/(\d*)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
LOCAL_KEYS = ("user", "ip", "user_or_ip")


def parse_rate(rate: str | tuple[int, int]) -> tuple[int, int]:
    """``(limit, seconds)`` of a rate string such as ``"5/h"`` or ``"100/5m"``, or of such a tuple."""
    if isinstance(rate, tuple):
        return rate
    match = _RATE.fullmatch(rate)
    if match is None:
        raise ImproperlyConfigured(f"Not a rate: {rate!r} (expected e.g. '5/m' or '100/5m')")
    limit, units, unit = match.groups()
    return int(limit), int(units or 1) * _UNIT_SECONDS[unit]


def _resolve_rate(rate, group: str, request):
    if callable(rate):
        return rate(group, request)
    if isinstance(rate, str) and "/" not in rate:
        return import_string(rate)(group, request)
    return rate


def _key_value(key, group: str, request) -> str:
    if callable(key):
        return str(key(group, request))
    if key == "user" or (key == "user_or_ip" and request.user.is_authenticated):
        return f"user:{request.user.pk}"
    return f"ip:{request.META['REMOTE_ADDR']}"


class LocalCounter:
    """Fixed-window counts in this process, for when the shared store is down."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[tuple, int] = {}

    def usage(self, request, *, group, fn, key, rate):
        group = group or f"{fn.__module__}.{fn.__qualname__}"
        rate = _resolve_rate(rate, group, request)
        if rate is None:
            return None
        limit, period = parse_rate(rate)
        value = _key_value(key, group, request)
        with self._lock:
            now = int(time.time())
            window_end = now - now % period + period
            self._counts = {slot: count for slot, count in self._counts.items() if slot[-1] > now}
            slot = (group, value, window_end)
            self._counts[slot] = count = self._counts.get(slot, 0) + 1
        return {"count": count, "limit": limit, "should_limit": count > limit, "time_left": window_end - now}

    def forget(self):
        """Drop every count (a new process would start with none)."""
        with self._lock:
            self._counts = {}


local_counter = LocalCounter()


def ratelimit(*, rate, key="user_or_ip", group=None, method=("POST",), store_down="refuse"):
    """Limit a view; ``rate`` is django-ratelimit's (``"5/h"``, a callable or a dotted path).

    Only requests whose method is in ``method`` (None: every method) are counted, or refused while the
    store is down. ``store_down``: "refuse" answers 503 while Redis is down; "local" counts in this
    process instead, by the ``key`` "user", "ip", "user_or_ip" or a callable.
    """
    if store_down not in ("refuse", "local"):
        raise ValueError("store_down must be 'refuse' or 'local'")
    if store_down == "local" and not (callable(key) or key in LOCAL_KEYS):
        raise ValueError(f"store_down='local' counts by {', '.join(LOCAL_KEYS)} or a callable key, not {key!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if method is not None and request.method not in method:
                return view(request, *args, **kwargs)  # not limited: the store is not even asked
            usage = _shared_usage(request, group=group, fn=view, key=key, rate=rate, method=method)
            if usage is _UNAVAILABLE and store_down == "local":
                usage = local_counter.usage(request, group=group, fn=view, key=key, rate=rate)
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
