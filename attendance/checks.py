"""System checks for the WEBHOOKS settings (attendance.webhooks): a timeout, backoff or attempt count
that cannot work fails at start-up instead of leaving deliveries stuck."""

from numbers import Real

from django.conf import settings
from django.core import checks

REQUIRED_KEYS = {"TIMEOUT_SECONDS", "RETRY_BASE_SECONDS", "MAX_ATTEMPTS"}
# Redis hands a message out again after its visibility timeout (an hour by default).
BROKER_VISIBILITY_SECONDS = 3600


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@checks.register("attendance")
def check_webhook_settings(app_configs=None, **kwargs):
    config = getattr(settings, "WEBHOOKS", None)
    if not isinstance(config, dict) or not REQUIRED_KEYS <= set(config):
        return [
            checks.Error(
                f"settings.WEBHOOKS must be a dict with {', '.join(sorted(REQUIRED_KEYS))}.", id="attendance.E001"
            )
        ]
    errors = []
    timeout, base, attempts = config["TIMEOUT_SECONDS"], config["RETRY_BASE_SECONDS"], config["MAX_ATTEMPTS"]
    if not (_number(timeout) and timeout > 0):
        errors.append(checks.Error("WEBHOOKS_TIMEOUT_SECONDS must be a positive number.", id="attendance.E002"))
    if not (_number(base) and base >= 0):
        errors.append(checks.Error("WEBHOOKS_RETRY_BASE_SECONDS must be a number, 0 or more.", id="attendance.E003"))
    if not (isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1):
        errors.append(checks.Error("WEBHOOKS_MAX_ATTEMPTS must be a whole number of at least 1.", id="attendance.E004"))
    if not errors and attempts >= 2 and base * 2 ** (attempts - 2) > BROKER_VISIBILITY_SECONDS:
        errors.append(
            checks.Warning(
                "The longest webhook backoff exceeds the broker's visibility timeout (1 h): delayed messages are "
                "handed out again (skipped, but wasted). Lower WEBHOOKS_RETRY_BASE_SECONDS or WEBHOOKS_MAX_ATTEMPTS.",
                id="attendance.W001",
            )
        )
    return errors
