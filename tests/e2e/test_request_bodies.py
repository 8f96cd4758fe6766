"""Request bodies under gunicorn in production mode: over-limit bodies are refused by their declared
length before they are read or spooled, chunked bodies are refused, and a refused body does not break
the keep-alive connection it came on."""

import http.client
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import gunicorn_in_production, sign_in_over_http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    with gunicorn_in_production(tmp_path, extra_env={"WEB_CONCURRENCY": "1", "TMPDIR": str(spool)}) as base:
        yield base, spool


def test_a_body_over_the_limit_is_refused_before_it_is_read(server, kiosk):
    base, spool = server
    cookies = sign_in_over_http(base, kiosk)
    url = urlsplit(base)
    boundary = "attendx-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    declared = 200 * 1024 * 1024
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(
            (
                f"POST /api/check-ins HTTP/1.1\r\nHost: {url.netloc}\r\nX-Forwarded-Proto: https\r\n"
                f"Origin: {base}\r\nX-CSRFToken: {cookies['csrftoken']}\r\n"
                f"Cookie: sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n"
            ).encode()
            + head
            + b"\xff" * (1024 * 1024)
        )
        started = time.monotonic()
        answer = b""
        while b'"error"' not in answer:  # the headers and the body may come in separate packets
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert '"error": "too_large"' in answer
    assert time.monotonic() - started < 5
    spooled = [path for path in spool.rglob("*") if path.is_file() and path.stat().st_size > 64 * 1024]
    assert not spooled, "the body was spooled to the temporary directory"


def test_a_chunked_body_is_refused_with_411(server, kiosk):
    base, _ = server
    cookies = sign_in_over_http(base, kiosk)
    answer = requests.post(
        f"{base}/api/check-ins",
        data=iter([b"--x\r\n", b"\xff" * 100_000]),  # a generator: requests sends it chunked
        headers={"X-Forwarded-Proto": "https", "Origin": base, "X-CSRFToken": cookies["csrftoken"]},
        cookies=cookies,
        timeout=20,
    )
    assert answer.status_code == 411
    assert answer.json()["error"] == "length_required"


@pytest.mark.parametrize("size", [1_000, 300_000])
def test_the_connection_survives_a_refused_body(server, size):
    """A foreign Origin gets 403 before Django reads the body; the next request on the connection works."""
    base, _ = server
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    headers = {
        "Origin": "https://evil.example",
        "X-Forwarded-Proto": "https",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    connection.request("POST", "/accounts/login/", body=b"x" * size, headers=headers)
    refused = connection.getresponse()
    refused.read()
    assert refused.status == 403
    connection.request("GET", "/healthz")
    again = connection.getresponse()
    assert again.status == 200 and again.read() == b"ok"
    connection.close()
