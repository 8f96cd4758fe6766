"""System checks for the sign-in lockout settings (accounts.lockout): a throttle that can never engage,
or a cool-off it cannot measure, fails at start-up instead of silently leaving guesses unlimited."""

from datetime import timedelta
from numbers import Real

from django.conf import settings
from django.core import checks


def _positive_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and value > 0


@checks.register("accounts")
def check_sign_in_lockout_settings(app_configs=None, **kwargs):
    errors = []
    failures = settings.SIGN_IN_THROTTLE_FAILURES
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 1:
        errors.append(
            checks.Error("SIGN_IN_THROTTLE_FAILURES must be a whole number of at least 1.", id="accounts.E001")
        )
    base, cap = settings.SIGN_IN_THROTTLE_BASE_SECONDS, settings.SIGN_IN_THROTTLE_MAX_SECONDS
    if not (_positive_number(base) and _positive_number(cap) and base <= cap):
        errors.append(
            checks.Error(
                "SIGN_IN_THROTTLE_BASE_SECONDS and SIGN_IN_THROTTLE_MAX_SECONDS must be positive, base at most max.",
                id="accounts.E002",
            )
        )
    cool_off = settings.AXES_COOLOFF_TIME
    if not (_positive_number(cool_off) or (isinstance(cool_off, timedelta) and cool_off > timedelta(0))):
        errors.append(
            checks.Error(
                "AXES_COOLOFF_TIME must be a positive number of hours or a timedelta: the per-account "
                "throttle counts the failures within it.",
                id="accounts.E003",
            )
        )
    return errors
