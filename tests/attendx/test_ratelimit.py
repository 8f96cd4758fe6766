"""django-ratelimit on Redis: 429 with Retry-After, shared across processes, 503 when the store is down."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.http import JsonResponse
from django.test import RequestFactory

from attendx.ratelimit import local_counter, ratelimit
from tests.conftest import free_port

URL = "/test/limited"
API_URL = "/api/test/limited"
LIMIT = 3


@pytest.fixture(autouse=True)
def _rate(settings):
    settings.TEST_LIMITED_RATE = f"{LIMIT}/h"


def test_the_request_over_the_limit_gets_429_with_retry_after(client):
    for _ in range(LIMIT):
        assert client.get(URL).status_code == 200
    response = client.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert b"Too many attempts" in response.content
    assert b"Try again in" in response.content


def test_api_calls_get_json(client):
    for _ in range(LIMIT):
        client.get(API_URL)
    response = client.get(API_URL)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert response.json()["retry_after"] == int(response["Retry-After"])


def test_the_rate_limit_store_down_gives_503_never_500_never_unlimited(client, redis_refused):
    for _ in range(LIMIT + 2):
        response = client.get(API_URL)
        assert response.status_code == 503
        assert int(response["Retry-After"]) == settings.RATELIMIT_UNAVAILABLE_RETRY_AFTER
        assert response.json()["error"] == "rate_limit_unavailable"
    html = client.get(URL, HTTP_ACCEPT="text/html")
    assert html.status_code == 503 and b"Briefly unavailable" in html.content


def test_a_stalled_store_gives_503_quickly(client, redis_server):
    redis_server.pause(2)
    started = time.monotonic()
    assert client.get(API_URL).status_code == 503
    assert client.get(API_URL).status_code == 503
    assert time.monotonic() - started < 1.0


def test_a_request_the_store_could_not_count_gets_503_not_429(client, monkeypatch):
    # The counter vanishes between django-ratelimit's add and its incr (an eviction, a flush): the request
    # was not counted, which is the store failing, not the client asking too often.
    monkeypatch.setattr(caches["ratelimit"], "add", lambda *args, **kwargs: False)
    response = client.get(API_URL)
    assert response.status_code == 503
    assert response.json()["error"] == "rate_limit_unavailable"


def api_request(method: str):
    request = RequestFactory().generic(method, "/api/test/direct")
    request.user = AnonymousUser()
    return request


def limited_view(**options):
    @ratelimit(key="ip", **options)
    def view(request):
        return JsonResponse({"ok": True})

    return view


def test_store_down_local_counts_in_this_process_while_redis_is_down(redis_refused):
    local_counter.forget()
    view = limited_view(rate="2/5m", group="test.local", store_down="local")
    assert [view(api_request("POST")).status_code for _ in range(3)] == [200, 200, 429]
    refused = view(api_request("POST"))
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 300
    assert json.loads(refused.content)["error"] == "rate_limited"


def test_store_down_local_reads_rates_from_a_callable(redis_refused):
    local_counter.forget()
    view = limited_view(rate=lambda group, request: (1, 60), group="test.local-callable", store_down="local")
    assert [view(api_request("POST")).status_code for _ in range(2)] == [200, 429]
    unlimited = limited_view(rate=lambda group, request: None, group="test.local-none", store_down="local")
    assert [unlimited(api_request("POST")).status_code for _ in range(3)] == [200] * 3


def test_method_none_limits_every_method():
    view = limited_view(rate="1/m", group="test.every-method", method=None)
    assert view(api_request("GET")).status_code == 200
    assert view(api_request("DELETE")).status_code == 429


def test_local_counting_refuses_a_key_it_cannot_read():
    with pytest.raises(ValueError, match="store_down='local'"):
        ratelimit(rate="1/m", key="header:x-device", store_down="local")


def _serve(port: int, tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "attendx.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "TEST_LIMITED_RATE": f"{LIMIT}/h",
    }
    command = [sys.executable, "-m", "gunicorn", "attendx.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1"]
    return subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, stderr=subprocess.DEVNULL)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_until_up(port: int):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if _status(f"http://127.0.0.1:{port}/healthz") == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start on port {port}")


def test_two_app_processes_share_one_count(tmp_path):
    ports = [free_port(), free_port()]
    servers = [_serve(port, tmp_path) for port in ports]
    try:
        for port in ports:
            _wait_until_up(port)
        statuses = [_status(f"http://127.0.0.1:{ports[i % 2]}{API_URL}") for i in range(LIMIT + 1)]
        assert statuses == [200] * LIMIT + [429]
        assert _status(f"http://127.0.0.1:{ports[0]}{API_URL}") == 429
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
