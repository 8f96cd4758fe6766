"""What the benchmarks share: percentiles, 640x480 frames, a private redis-server, Django on a temporary
SQLite file, and gunicorn on a loopback port. Every server started here is stopped on exit.
"""

import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
FRAME_SIZE = (640, 480)
PASSWORD = "bench-password-not-secret"  # noqa: S105 (throwaway users in a temporary database)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fit_frame(photo: Path, *, shift: int = 0, quality: int = 90) -> bytes:
    """The photo fitted and centred on a black 640x480 frame (moved ``shift`` px right), as JPEG bytes."""
    with Image.open(photo) as original:
        image = ImageOps.exif_transpose(original).convert("RGB")
    image.thumbnail(FRAME_SIZE)
    frame = Image.new("RGB", FRAME_SIZE)
    frame.paste(image, ((FRAME_SIZE[0] - image.width) // 2 + shift, (FRAME_SIZE[1] - image.height) // 2))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def wait_until(check, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


@contextmanager
def redis_server():
    """A private redis-server without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing: apt-get install -y redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        wait_until(lambda: redis.Redis(port=port, socket_timeout=1).ping(), seconds=10, what="redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def closed_redis_url() -> str:
    """A loopback port where nothing listens: the app then runs without Redis."""
    return f"redis://127.0.0.1:{free_port()}/0"


def _face_key(workdir: Path) -> str:
    """The run's key for encryption at rest (faces.crypto): one per work dir, for this process and its servers."""
    from cryptography.fernet import Fernet

    path = workdir / "faces-encryption.key"
    if not path.exists():
        path.write_bytes(Fernet.generate_key())
    return path.read_text().strip()


def app_env(workdir: Path, redis_url: str) -> dict[str, str]:
    """Production settings (benchmarks.server_settings) on plain HTTP, a temporary database and media."""
    return {
        "DJANGO_SETTINGS_MODULE": "benchmarks.server_settings",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SQLITE_PATH": str(workdir / "db.sqlite3"),
        "MEDIA_ROOT": str(workdir / "media"),
        "FACES_ENCRYPTION_KEYS": _face_key(workdir),
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def django_app(redis_url: str):
    """Set up Django in this process on a fresh temporary SQLite file (migrated); yields the work dir."""
    with tempfile.TemporaryDirectory(prefix="attendx-bench-") as name:
        workdir = Path(name)
        os.environ.update(app_env(workdir, redis_url))
        sys.path.insert(0, str(REPO))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield workdir


@contextmanager
def gunicorn(workdir: Path, redis_url: str, *, workers: int, extra_env: dict | None = None):
    """gunicorn -c gunicorn.conf.py on 127.0.0.1:<free port>; yields the base URL and the master's pid.

    The access and error logs go to workdir/gunicorn-<port>.log.
    """
    port = free_port()
    env = {**os.environ, **app_env(workdir, redis_url), "WEB_CONCURRENCY": str(workers), **(extra_env or {})}
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    log = open(workdir / f"gunicorn-{port}.log", "wb")
    process = subprocess.Popen([*command, "attendx.wsgi:application"], cwd=REPO, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=2).ok, seconds=60, what="gunicorn")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=40)
        log.close()


def sign_in(base: str, username: str) -> requests.Session:
    """A client signed in through the login form, with its CSRF token."""
    client = requests.Session()
    client.get(f"{base}/accounts/login/", timeout=10).raise_for_status()
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
    answer = client.post(f"{base}/accounts/login/", data=form, timeout=10, allow_redirects=False)
    if answer.status_code != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"Sign-in as {username} failed: HTTP {answer.status_code}")
    return client


def cpu_seconds(pids) -> list[float]:
    times = [psutil.Process(pid).cpu_times() for pid in pids]
    return [t.user + t.system for t in times]


def machine_load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg()) + f", {os.cpu_count()} cores"


class OtherCpu:
    """Cores used on average by processes outside this benchmark's process tree while the block runs.

    Sampled twice a second: a process that starts and ends between two samples is missed.
    """

    def __enter__(self):
        self._seen: dict[tuple[int, float], float] = {}
        self._start = self._sample()
        self._began, self._stop = time.monotonic(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> dict[tuple[int, float], float]:
        me = psutil.Process()
        mine = {me.pid} | {child.pid for child in me.children(recursive=True)}
        current = {}
        for process in psutil.process_iter(["create_time", "cpu_times"]):
            times = process.info["cpu_times"]
            if process.pid not in mine and times is not None:
                current[(process.pid, process.info["create_time"])] = times.user + times.system
        self._seen.update(current)
        return current

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        used = sum(seconds - self._start.get(key, 0.0) for key, seconds in self._seen.items())
        self.cores = used / (time.monotonic() - self._began)

    def __str__(self) -> str:
        return f"other processes used {self.cores:.2f} of {os.cpu_count()} cores"
