"""System checks: the RETENTION settings (attendx.retention), where a limit that is missing, zero, negative
or not a number fails at start-up instead of purging everything or nothing; and the version of a library
whose internals AttendX uses, which must be the one that code was written against."""

from importlib import metadata
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


@checks.register("attendx")
def check_mongodb_backend_version(app_configs=None, **kwargs):
    # Only where MongoDB is configured: attendx.db touches the backend's internals on MongoDB
    # connections alone, so another version installed beside SQLite breaks nothing.
    if not any(db.get("ENGINE") == "django_mongodb_backend" for db in settings.DATABASES.values()):
        return []
    from attendx.db import MONGO_BACKEND_VERSION

    try:
        installed = metadata.version("django-mongodb-backend")
    except metadata.PackageNotFoundError:
        installed = None
    if installed == MONGO_BACKEND_VERSION:
        return []
    return [
        checks.Error(
            f"django-mongodb-backend {installed or '(not installed)'} is installed; attendx.db was written "
            f"against {MONGO_BACKEND_VERSION}.",
            hint="attendx.db._exit_mongo_atomic() uses the backend's internals: check it against the new "
            "release, then change MONGO_BACKEND_VERSION and the pin in requirements/base.txt.",
            id="attendx.E003",
        )
    ]
