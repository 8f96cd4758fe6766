"""A real Celery worker for tests: a separate process on this test's database, Redis and media.

``running_worker()`` starts ``celery -A attendx worker`` and waits until it answers a ping; the
``celery_worker`` fixture (tests/conftest.py) wraps it. Never eager mode: tasks cross a real broker.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


def worker_env(**extra) -> dict[str, str]:
    """The environment of a process that must see this test's database, Redis, media and weights."""
    database = "MONGODB_NAME" if connection.vendor == "mongodb" else "SQLITE_PATH"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "attendx.settings.test",
        database: str(connection.settings_dict["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEEPFACE_HOME": str(settings.DEEPFACE_HOME),
        "ATTENDANCE_LIVENESS": settings.ATTENDANCE["LIVENESS"],
        "LOG_LEVEL": "INFO",
        **extra,
    }


@contextmanager
def running_worker(*, name: str = "test", concurrency: int = 1, queues: str = "", env: dict | None = None):
    """A worker process (prefork, ``concurrency`` children); yields the Popen. Stopped on exit."""
    from attendx.celery import app

    hostname = f"{name}-{os.getpid()}-{time.monotonic_ns()}@localhost"
    command = [sys.executable, "-m", "celery", "-A", "attendx", "worker", "-n", hostname, "-c", str(concurrency)]
    command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    if queues:
        command += ["-Q", queues]
    process = subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=worker_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited: {process.stdout.read()[-3000:]}")
            if app.control.ping(destination=[hostname], timeout=0.5):
                break
        else:
            raise RuntimeError("the Celery worker did not answer a ping within 60 s")
        process.hostname = hostname
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
