"""System checks for the RETENTION settings (attendx.retention): a limit that is missing, zero, negative
or not a number fails at start-up instead of purging everything or nothing."""

from numbers import Real

from django.conf import settings
from django.core import checks

RETENTION_KEYS = (
    "TEMPLATES_AFTER_LEAVING_DAYS",
    "EVIDENCE_DAYS",
    "REVIEW_FRAME_HOURS",
    "NOT_LIVE_DAYS",
    "CHECK_IN_ANSWER_HOURS",
)


@checks.register("attendx")
def check_retention_settings(app_configs=None, **kwargs):
    config = getattr(settings, "RETENTION", None)
    if not isinstance(config, dict):
        return [checks.Error("settings.RETENTION must be a dict.", id="attendx.E001")]
    errors = []
    for key in RETENTION_KEYS:
        value = config.get(key)
        if not (isinstance(value, Real) and not isinstance(value, bool) and value > 0):
            errors.append(
                checks.Error(
                    f"RETENTION_{key} must be a positive number (got {value!r}).",
                    hint="Every kind of personal data needs a limit; 0 would delete it as soon as it is made.",
                    id="attendx.E002",
                )
            )
    return errors
