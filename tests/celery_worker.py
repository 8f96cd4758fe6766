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
    process = _spawn(command, env)
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
        _stop(process, timeout=20)


def _spawn(command: list[str], env: dict | None) -> subprocess.Popen:
    """A Celery process in its own session (so that its pool children stop with it), output captured."""
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=worker_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM to the process's session, SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def pool_children(process) -> list[int]:
    """The prefork pool's child processes of a worker started by ``running_worker``."""
    path = f"/proc/{process.pid}/task/{process.pid}/children"
    with open(path) as handle:
        return [int(pid) for pid in handle.read().split()]


@contextmanager
def broker_at(url: str):
    """settings.CELERY_BROKER_URL is ``url`` (the Celery app reads it live), for this process and the
    workers started inside; pooled broker connections are dropped on the way in and out."""
    from django.test import override_settings
    from kombu import pools

    from attendx.celery import app

    def reset():
        pools.reset()  # closes every pooled connection and forgets the pools, keyed by broker URL
        app._pool = None
        app.amqp._producer_pool = None

    reset()
    try:
        with override_settings(CELERY_BROKER_URL=url):
            yield
    finally:
        reset()


@contextmanager
def running_beat(*, schedule_file, env: dict | None = None):
    """``celery -A attendx beat`` on this test's settings, its schedule in ``schedule_file``; stopped on exit."""
    command = [sys.executable, "-m", "celery", "-A", "attendx", "beat", "-s", str(schedule_file), "--loglevel", "INFO"]
    command += ["--pidfile", f"{schedule_file}.pid", "--max-interval", "1"]
    process = _spawn(command, env)
    try:
        yield process
    finally:
        _stop(process, timeout=10)


def wait_for(condition, *, timeout: float = 30, every: float = 0.1, what: str = "the condition"):
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@contextmanager
def running_command(*args: str, env: dict[str, str]):
    """``manage.py *args`` in a process of its own, stdout and stderr captured apart; killed on exit if it
    still runs (a test that wants it stopped cleanly calls ``stopped_at_once``)."""
    command = [sys.executable, "manage.py", *args]
    process = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stopped_at_once(process: subprocess.Popen, *, within: float = 2.0) -> tuple[str, str]:
    """SIGTERM ``process`` and return its (stdout, stderr); it must have ended within ``within`` seconds."""
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, err = process.communicate(timeout=10)
    assert time.monotonic() - sent < within, f"still running {within} s after SIGTERM"
    return out, err
