"""A stand-in for go2rtc's snapshot endpoint, ``GET /api/frame.jpeg?src=NAME``, for the camera tests.

No go2rtc binary can be installed here, so a small HTTP server answers with a script of frames and
errors per stream. The ``go2rtc`` fixture (tests/attendance/conftest.py) runs one per test.
"""

import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Stall:
    """Answer nothing for this long: a camera that hangs."""

    seconds: float


class StandInGo2rtc:
    """go2rtc's snapshot endpoint: each stream plays its script (bytes, status codes, stalls); the last repeats."""

    def __init__(self):
        self.scripts: dict[str, list] = {}
        self.requests: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                src = parse_qs(url.query).get("src", [""])[0]
                stand_in.requests.append(src)
                script = stand_in.scripts.get(src)
                if url.path != "/api/frame.jpeg" or not script:
                    self.send_error(404, "stream not found")
                    return
                answer = script.pop(0) if len(script) > 1 else script[0]
                if isinstance(answer, Stall):
                    time.sleep(answer.seconds)
                    self.send_error(504)
                elif isinstance(answer, int):
                    self.send_error(answer)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def play(self, stream: str, *answers) -> None:
        self.scripts[stream] = list(answers)
