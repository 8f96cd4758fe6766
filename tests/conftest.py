"""Shared fixtures: real Redis servers, clean keys between tests, users by role."""

import csv
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.db import connections
from django.test import TransactionTestCase, override_settings
from django.utils import translation

from attendx import cache as attendx_cache
from attendx.settings.base import redis_cache
from tests.factories import UserFactory, consented

DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"})


def uses_the_database(item) -> bool:
    """Whether a test can reach the database: pytest-django refuses every query to one that cannot (no
    django_db mark, no db fixture among the fixtures it needs, directly or through other fixtures)."""
    return item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(item.fixturenames))


def pytest_collection_modifyitems(config, items):
    """In a module marked ``database_independent`` the tests that cannot reach a database do not depend on
    which one it is either: the MongoDB pass (MONGODB_URI set, scripts/test.sh) skips them, as they would
    run exactly as in the SQLite pass. Its tests that use the database run in both passes."""
    if not os.environ.get("MONGODB_URI"):
        return
    once = pytest.mark.skip(reason="database independent: runs once, in the SQLite pass")
    for item in items:
        if item.get_closest_marker("database_independent") and not uses_the_database(item):
            item.add_marker(once)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if not binary:
        pytest.fail("redis-server is not installed: run the tests with `make test`, which installs it")
    return binary


class RedisServer:
    """A private redis-server that a test may stop, restart or stall."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None

    def restart(self):
        self.stop()
        return self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1)

    def pause(self, seconds: float):
        """Stall every client, as an overloaded or frozen server would (CLIENT PAUSE ... ALL)."""
        self.client().execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")


def caches_at(url: str) -> dict:
    return {alias: redis_cache(url) for alias in ("default", "sessions", "ratelimit")}


@contextmanager
def redis_at(url: str):
    """Point every cache alias (cache, sessions, rate limits) at ``url``."""
    with override_settings(CACHES=caches_at(url)):
        attendx_cache._availability.clear()
        yield
    attendx_cache._availability.clear()


@pytest.fixture
def redis_server():
    server = RedisServer(free_port()).start()
    with redis_at(server.url):
        yield server
    server.stop()


@pytest.fixture
def redis_refused():
    """Every alias points at a loopback port where nothing listens."""
    port = free_port()
    with redis_at(f"redis://127.0.0.1:{port}/0"):
        yield port


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker process on this test's database (tests/celery_worker.py); queues emptied."""
    from tests.celery_worker import running_worker

    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()
    with running_worker() as process:
        yield process


@pytest.fixture
def broker_refused():
    """The Celery broker is a loopback port where nothing listens, for this process and any worker."""
    from tests.celery_worker import broker_at

    url = f"redis://127.0.0.1:{free_port()}/1"
    with broker_at(url):
        yield url


@pytest.fixture
def shared_redis() -> redis.Redis:
    """A raw client on the server the test command started (REDIS_URL)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)


@pytest.fixture(autouse=True)
def _clean_redis():
    from attendance import agreement

    agreement.forget_local()  # the frames a process saw itself, kept for when Redis is down
    attendx_cache._availability.clear()
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"No Redis at REDIS_URL={settings.REDIS_URL}: run the tests with `make test`")
    yield
    attendx_cache._availability.clear()


# Written by migrations and post_migrate, never by a test; flushing them meant re-running post_migrate.
KEPT_BETWEEN_MONGODB_TESTS = frozenset({"django_content_type", "auth_permission"})


def _empty_mongodb_collections(test_case):
    """What Django's flush does between tests without transactions, minus its costs on MongoDB: a round
    trip per collection to read its options, and post_migrate recreating content types and permissions
    after emptying them (about 0.3 s a test, a quarter of the MongoDB pass)."""
    for alias in test_case._databases_names(include_mirrors=False):
        connection = connections[alias]
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            if table not in KEPT_BETWEEN_MONGODB_TESTS:
                connection.database[table].delete_many({})


@pytest.fixture(scope="session", autouse=True)
def _cheap_flush_on_mongodb():
    if not os.environ.get("MONGODB_URI"):
        yield
        return
    with mock.patch.object(TransactionTestCase, "_fixture_teardown", _empty_mongodb_collections):
        yield


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def member(db):
    return UserFactory(role="member")


@pytest.fixture
def staff(db):
    return UserFactory(role="staff")


@pytest.fixture
def kiosk(db):
    return UserFactory(role="kiosk")


# Real face photos from the shared folder, embedded once per run.

FACES_DIR = Path(os.environ.get("ATTENDX_TEST_FACES", Path(settings.BASE_DIR).parent / "shared" / "data" / "faces"))
if not (FACES_DIR / "manifest.csv").is_file():
    pytest.exit(f"The shared face photos are missing at {FACES_DIR}; set ATTENDX_TEST_FACES.", returncode=3)


@dataclass(frozen=True, eq=False)
class SharedPhoto:
    name: str  # path relative to FACES_DIR, e.g. "angelina_jolie/01.jpg"
    identity: str
    faces_in_image: str
    data: bytes
    digest: str
    faces: list  # faces.embedding_cache.DetectedFace


def read_manifest() -> list[dict]:
    with open(FACES_DIR / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_pairs() -> list[dict]:
    with open(FACES_DIR / "pairs.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def shared_photos() -> dict[str, SharedPhoto]:
    """Every photo of the manifest, decoded and embedded once with the configured pipeline."""
    from faces.pipeline import get_engine
    from faces.uploads import decode_upload

    engine = get_engine()
    photos = {}
    for row in read_manifest():
        data = (FACES_DIR / row["file"]).read_bytes()
        image = decode_upload(data)  # no file name: one shared photo is WebP named .jpg
        found = engine.detect_and_embed(image.rgb)
        photos[row["file"]] = SharedPhoto(
            name=row["file"],
            identity=row["identity"],
            faces_in_image=row["faces_in_image"],
            data=data,
            digest=image.digest,
            faces=[_detected(face) for face in found],
        )
    return photos


def _detected(face):
    from faces.embedding_cache import DetectedFace

    return DetectedFace(box=face.box, quality=face.quality, embedding=face.embedding)


@pytest.fixture
def embedding_cache(shared_photos):
    """Seed the Redis digest cache with the shared photos, as an earlier enrollment would have."""
    from faces.embedding_cache import remember_faces

    for photo in shared_photos.values():
        if photo.faces:
            remember_faces(photo.digest, photo.faces)
    return shared_photos


@pytest.fixture(autouse=True)
def _liveness_off_unless_marked(request, settings):
    """Still photos are never live: tests of recognition, agreement and pages check in with liveness off.
    Tests marked ``liveness`` (tests/attendance/test_presence.py, the browser) run the shipped default."""
    from attendance import presence

    presence.forget_local()
    if request.node.get_closest_marker("liveness") is None:
        settings.ATTENDANCE = {**settings.ATTENDANCE, "LIVENESS": "off"}


@pytest.fixture(autouse=True)
def _consent_unless_marked(request):
    """Everyone created during a test has consented to face recognition (accounts.consent), as enrollment
    requires; tests marked ``without_consent`` (tests/accounts/test_consent.py) start from nobody's."""
    from django.db.models.signals import post_save

    from accounts.models import Role, User

    if request.node.get_closest_marker("without_consent") is not None:
        yield
        return

    def consent_on_creation(sender, instance, created, raw=False, **kwargs):
        if created and not raw and instance.role != Role.KIOSK:
            consented(instance)

    post_save.connect(consent_on_creation, sender=User, dispatch_uid="tests-consent", weak=False)
    yield
    post_save.disconnect(sender=User, dispatch_uid="tests-consent")


@pytest.fixture
def absence_reasons(db):
    """The reasons migration 0010 seeds; a transactional test before this one flushed them away."""
    from importlib import import_module

    from attendance.models import AbsenceReason

    for code, label, excused in import_module("attendance.migrations.0010_absence_reasons").REASONS:
        AbsenceReason.objects.get_or_create(code=code, defaults={"label": label, "excused": excused})


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Spanish leaves its thread in Spanish (LocaleMiddleware): the next test starts in English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def run_together(*functions) -> list:
    """Run each function in its own thread, all released at once; return results (or the exceptions
    raised) in order. Each thread closes its database connection, as a request would."""
    import threading

    from django.db import connection

    start = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def run(index, function):
        try:
            start.wait()
            outcomes[index] = function()
        except Exception as error:  # noqa: BLE001 - handed to the caller
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def other_shape_key() -> str:
    """A key of the other database's shape (attendx.keys): never a key here."""
    from django.db import connection

    return "1" if connection.vendor == "mongodb" else "0123456789abcdef01234567"


def missing_key() -> str:
    """A key of this database's shape that names nothing."""
    from django.db import connection

    return "f" * 24 if connection.vendor == "mongodb" else "999999999"
