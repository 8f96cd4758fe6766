"""What changes when ``MONGODB_URI`` is set: django-mongodb-backend, ObjectId keys, the Mongo migrations.

Used by base.py; see docs/mongodb.md. Nothing here is read when AttendX runs on SQLite.
"""

from urllib.parse import urlsplit

DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"

# Contrib and third-party apps whose own AppConfig names an integer auto field.
APP_CONFIGS = {
    "django.contrib.admin": "attendx.mongo_apps.MongoAdminConfig",
    "django.contrib.auth": "attendx.mongo_apps.MongoAuthConfig",
    "django.contrib.contenttypes": "attendx.mongo_apps.MongoContentTypesConfig",
    "axes": "attendx.mongo_apps.MongoAxesConfig",
}

# Every app with models migrates from its own tree, written by scripts/mongo_makemigrations.sh.
MIGRATION_MODULES = {
    label: f"mongo_migrations.{label}"
    for label in ("admin", "auth", "contenttypes", "sessions", "axes", "accounts", "faces", "attendance")
}


def database(uri: str, *, name: str = "") -> dict:
    """The DATABASES entry; the database is ``name``, else the one in the URI's path, else "attendx"."""
    # urlsplit, not pymongo's parser: that one resolves mongodb+srv:// names in DNS at import time.
    return {"ENGINE": "django_mongodb_backend", "HOST": uri, "NAME": name or urlsplit(uri).path.strip("/") or "attendx"}


def installed_apps(apps: list[str]) -> list[str]:
    return [APP_CONFIGS.get(app, app) for app in apps]
