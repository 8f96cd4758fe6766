"""Gunicorn settings for AttendX (``gunicorn -c gunicorn.conf.py attendx.wsgi:application``).

Recognition is CPU-bound and one call at a time uses a worker's engine, so throughput comes from
processes: one worker per core with one thread each served 8 concurrent kiosks fastest on 2 cores
(more threads per worker queue behind that worker's engine while the other worker idles:
docs/benchmarks.md, Concurrent kiosks, before and after the engine issue). Put a buffering proxy in
front (docs/deploy.md), so a slow upload never holds a worker's only thread. Never ``preload_app``:
the model is loaded lazily in each worker (forking a process that already holds TensorFlow state is
unsafe).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '10000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync workers, one request at a time each; gunicorn switches to its threaded worker when GUNICORN_THREADS > 1.
worker_class = "sync"
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
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
    from faces.pipeline import get_engine

    try:
        get_engine().load()
    except EngineError as error:  # /readyz reports it; requests answer 503 until it is fixed
        worker.log.warning("Face model not loaded at start-up: %s", error)
