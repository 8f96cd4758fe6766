"""Gunicorn settings for AttendX (``gunicorn -c gunicorn.conf.py attendx.wsgi:application``).

Recognition is CPU-bound and the face model takes memory per process, so we run few workers with a
generous timeout, and never ``preload_app``: the model is loaded lazily in each worker (forking a
process that already holds TensorFlow state is unsafe).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '10000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
preload_app = False
# Recycle workers now and then so a slow leak in a native library cannot grow without bound.
max_requests = 1000
max_requests_jitter = 100
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Load the face model in each worker as it starts, so the first check-in is not the slow one."""
    if os.environ.get("FACES_WARMUP", "1") != "1":
        return
    from faces.engine import EngineError
    from faces.services import get_engine

    try:
        get_engine().load()
    except EngineError as error:  # /readyz reports it; requests answer 503 until it is fixed
        worker.log.warning("Face model not loaded at start-up: %s", error)
