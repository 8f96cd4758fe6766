"""Sign-in lockout on top of django-axes (docs/operations.md, "Sign-in lockout").

Failures are counted per account: axes records every spelling of a login under one name. Across
addresses, an account with many recent failures is slowed down: each attempt waits a capped,
doubling delay after the account's last failure. Both live in axes' ``AccessAttempt`` rows, in the
database, so they hold when Redis is down.
"""

import math
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.selectors import account_for_login

# Exponents beyond this only ever hit the cap; keeps 2**n a small number.
_MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class SignInWait:
    """Sign-in to this account is paused; the next attempt is let through in ``seconds`` (at least 1)."""

    seconds: int


def lockout_name(login: str) -> str:
    """The name failures for ``login`` are counted under: its account's username, or, for a login that
    names no account, a normalised form, so that its spellings share one counter too."""
    account = account_for_login(login)
    if account is not None:
        return account.get_username()
    return unicodedata.normalize("NFKC", login).strip().casefold()


def axes_username(request, credentials=None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the name axes records and looks up attempts by."""
    source = credentials if credentials else getattr(request, "POST", {})
    login = source.get("username")
    return lockout_name(login) if login else login


def cool_off() -> timedelta:
    """axes' cool-off (``AXES_COOLOFF_TIME``, hours or a timedelta): older attempts no longer count."""
    value = settings.AXES_COOLOFF_TIME
    return value if isinstance(value, timedelta) else timedelta(hours=value)


def throttle_delay(failures: int, *, after: int, base: float, cap: float) -> float:
    """Seconds an attempt waits after the account's last failure: none below ``after`` failures, then
    ``base``, doubling with every further failure, never more than ``cap``."""
    if failures < after:
        return 0.0
    return min(base * 2 ** min(failures - after, _MAX_DOUBLINGS), cap)


def reserve_sign_in_attempt(*, login: str) -> SignInWait | None:
    """Let one sign-in attempt for ``login``'s account through (None), or say how long to wait.

    While the account is slowed down, an attempt whose wait is over takes the slot by moving the
    account's latest attempt time to now, a compare-and-set: of many attempts racing for one slot,
    one gets it and the others wait. A refused attempt writes nothing and is no failure, so refusals
    never lengthen the wait, and the wait is never longer than ``SIGN_IN_THROTTLE_MAX_SECONDS``.
    """
    now = timezone.now()
    attempts = AccessAttempt.objects.filter(username=lockout_name(login), attempt_time__gte=now - cool_off())
    failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
    delay = throttle_delay(
        failures,
        after=settings.SIGN_IN_THROTTLE_FAILURES,
        base=settings.SIGN_IN_THROTTLE_BASE_SECONDS,
        cap=settings.SIGN_IN_THROTTLE_MAX_SECONDS,
    )
    if not delay:
        return None
    latest = attempts.order_by("-attempt_time").values_list("pk", "attempt_time").first()
    if latest is None:
        return None
    pk, last_attempt = latest
    remaining = min(delay - (now - last_attempt).total_seconds(), delay)
    if remaining > 0:
        return SignInWait(seconds=math.ceil(remaining))
    if AccessAttempt.objects.filter(pk=pk, attempt_time=last_attempt).update(attempt_time=now):
        return None
    return SignInWait(seconds=math.ceil(delay))
