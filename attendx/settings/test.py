"""Test settings: the test command points REDIS_URL at a real redis-server it started."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, MONGODB_URI, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="django-insecure-test-only")
# Without FACES_ENCRYPTION_KEYS, one key kept beside the database, never in it (faces.crypto).
FACES_ENCRYPTION_KEY_FILE = BASE_DIR / "var" / "faces-encryption.key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if MONGODB_URI:
    # pytest-django creates (and drops) this database on the server MONGODB_URI names.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_MONGODB_NAME", default="test_attendx")}
else:
    # A real database file, so that tests with threads and processes share it.
    DATABASES["default"]["TEST"] = {
        "NAME": env("TEST_SQLITE_PATH", default=str(BASE_DIR / "var" / "test.sqlite3")),
    }

ROOT_URLCONF = "tests.urls"
REDIS_RETRY_INTERVAL = 0.5
SESSION_EPOCH_RECHECK_SECONDS = 0.0
AXES_FAILURE_LIMIT = 3
TEST_LIMITED_RATE = env("TEST_LIMITED_RATE", default="3/h")
# Serve static files from the apps without a collectstatic step.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
