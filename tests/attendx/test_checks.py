"""System checks on the libraries whose internals AttendX uses: another version fails `manage.py check`."""

from importlib import metadata

import pytest
from django.conf import settings
from django.core.checks import run_checks

from attendx.db import MONGO_BACKEND_VERSION

pytestmark = pytest.mark.database_independent

MONGODB = {"default": {"ENGINE": "django_mongodb_backend", "HOST": "mongodb://127.0.0.1/", "NAME": "attendx"}}
SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "attendx.sqlite3"}}


def backend_version_errors():
    return [message for message in run_checks() if message.id == "attendx.E003"]


def installed(monkeypatch, version):
    real_version = metadata.version

    def version_of(name):
        if name != "django-mongodb-backend":
            return real_version(name)
        if version is None:
            raise metadata.PackageNotFoundError(name)
        return version

    monkeypatch.setattr(metadata, "version", version_of)


@pytest.mark.parametrize("version", ["5.2.5", "6.0.0", None])
def test_an_unknown_mongodb_backend_version_is_an_error_on_mongodb(monkeypatch, version):
    monkeypatch.setattr(settings, "DATABASES", MONGODB)
    installed(monkeypatch, version)
    errors = backend_version_errors()
    assert len(errors) == 1
    assert MONGO_BACKEND_VERSION in errors[0].msg and (version or "not installed") in errors[0].msg


def test_the_version_attendx_db_was_written_against_passes(monkeypatch):
    monkeypatch.setattr(settings, "DATABASES", MONGODB)
    installed(monkeypatch, MONGO_BACKEND_VERSION)
    assert backend_version_errors() == []


def test_on_sqlite_the_mongodb_backend_version_does_not_matter(monkeypatch):
    monkeypatch.setattr(settings, "DATABASES", SQLITE)
    installed(monkeypatch, "6.0.0")
    assert backend_version_errors() == []


def test_requirements_pin_the_version_attendx_db_was_written_against():
    pin = next(
        line.split("==")[1].strip()
        for line in (settings.BASE_DIR / "requirements" / "base.txt").read_text().splitlines()
        if line.startswith("django-mongodb-backend")
    )
    assert pin == MONGO_BACKEND_VERSION
