"""Local development: `make run` serves these settings on http://127.0.0.1:10000."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
# Without FACES_ENCRYPTION_KEYS, one key kept beside the database, never in it (faces.crypto).
FACES_ENCRYPTION_KEY_FILE = BASE_DIR / "var" / "faces-encryption.key"
# Without a mail server, notifications are printed in the Celery worker's log (var/celery-worker.log);
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST sends them (docs/notifications.md).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
