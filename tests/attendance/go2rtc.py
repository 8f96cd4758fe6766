"""A stand-in for go2rtc's snapshot endpoint, ``GET /api/frame.jpeg?src=NAME``, for the camera tests: a
pytest-httpserver server whose streams each play a script of frames and failures (no go2rtc binary can be
installed here). The ``go2rtc`` fixture (tests/attendance/conftest.py) runs one per test.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus

from pytest_httpserver import HTTPServer, RequestHandler
from werkzeug import Request, Response


@dataclass(frozen=True)
class Stall:
    """Answer nothing for this long (or until the test ends), then 504: a camera that hangs."""

    seconds: float


class StandInGo2rtc:
    """Streams answer their scripts (JPEG bytes, status codes, stalls) in turn; the last answer repeats.
    An unknown stream gets 404, as from go2rtc."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.server.no_handler_status_code = 404
        self.url = server.url_for("/").rstrip("/")
        self.closing = threading.Event()  # ends the stalls
        self._handlers: dict[str, list[RequestHandler]] = {}

    @property
    def requests(self) -> list[str]:
        """The ``src`` of every snapshot asked for so far, in order."""
        return [request.args.get("src", "") for request, _ in self.server.log]

    def play(self, stream: str, *answers) -> None:
        """From now on ``stream`` answers ``answers`` one per snapshot, then the last one for ever."""
        for handler in self._handlers.pop(stream, []):
            for registered in (self.server.oneshot_handlers, self.server.handlers):
                if handler in registered:
                    registered.remove(handler)
        *once, _ = answers
        matcher = {"uri": "/api/frame.jpeg", "query_string": {"src": stream}}
        handlers = [self.server.expect_oneshot_request(**matcher) for _ in once]
        handlers.append(self.server.expect_request(**matcher))
        for handler, answer in zip(handlers, answers, strict=True):
            handler.respond_with_handler(self._answer(answer))
        self._handlers[stream] = handlers

    def _answer(self, answer):
        def respond(request: Request) -> Response:
            status = answer
            if isinstance(answer, Stall):
                self.closing.wait(answer.seconds)
                status = 504
            if isinstance(status, int):  # with go2rtc's reason phrase ("Internal Server Error"), not werkzeug's
                return Response(status=f"{status} {HTTPStatus(status).phrase}")
            return Response(answer, content_type="image/jpeg")

        return respond


@contextmanager
def running_go2rtc() -> Iterator[StandInGo2rtc]:
    """A stand-in on a free port, threaded so that a stall holds up no other snapshot."""
    request_lines = logging.getLogger("werkzeug")  # one INFO line per snapshot: not what the tests log
    level = request_lines.level
    request_lines.setLevel(logging.WARNING)
    try:
        with HTTPServer(host="127.0.0.1", threaded=True) as server:
            stand_in = StandInGo2rtc(server)
            try:
                yield stand_in
            finally:
                stand_in.closing.set()
    finally:
        request_lines.setLevel(level)
