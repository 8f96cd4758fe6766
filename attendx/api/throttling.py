"""Requests per account (or client address) and scope, counted in fixed windows in Redis.

The scope is the view's ``throttle_scope`` ("api" by default); rates are REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES, read at request time. Counting is one atomic INCR with an expiry on the
``ratelimit`` cache, so web workers share one count. With Redis down the request is let through:
attendx.cache logs the outage once and leaves Redis alone for REDIS_RETRY_INTERVAL.
"""

import math
import time

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from attendx.cache import RedisClient

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/m"`` -> (600, 60); a period may have a count: ``"10/5m"`` -> (10, 300)."""
    count, _, period = rate.partition("/")
    return int(count), int(period[:-1] or 1) * PERIODS[period[-1]]


class RedisRateThrottle(BaseThrottle):
    default_scope = "api"

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None) or self.default_scope
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if not rate:
            return True
        limit, period = parse_rate(rate)
        user = request.user
        who = f"user:{user.pk}" if user and user.is_authenticated else f"ip:{self.get_ident(request)}"
        now = time.time()
        window = int(now // period)
        count = RedisClient(settings.RATELIMIT_USE_CACHE).incr(f"throttle:{scope}:{who}:{window}", expire=period)
        if count is None:  # Redis is down: better unlimited than unavailable
            return True
        self.seconds_left = max(1, math.ceil((window + 1) * period - now))
        return count <= limit

    def wait(self) -> int:
        return getattr(self, "seconds_left", 1)
