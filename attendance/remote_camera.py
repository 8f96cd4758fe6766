"""A camera on another host: take go2rtc snapshots and post each new one to AttendX's check-in API with
the camera device's token (docs/cameras.md, section 5). Nothing here touches a database: the server
decides which sessions the device serves, when frames agree, and what is marked.

``RemoteCamera.poll_once`` does one step and says what happened; ``run`` repeats it until its stop event
is set or the server refuses the token.
"""

import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from attendance.cameras import FETCH_ERRORS, backoff_delay
from faces.images import image_digest

logger = logging.getLogger(__name__)


class Sent(StrEnum):
    IDLE = "idle"  # the device serves no session open now: no snapshot taken
    UNCHANGED = "unchanged"  # the same bytes as the last frame posted
    POSTED = "posted"  # the server recognised it; ``Step.marked`` names whom it checked in
    BUSY = "busy"  # 429 or 503: the server asked to wait (``Step.wait``)
    REVOKED = "revoked"  # 401: the token is wrong or revoked; ``run`` stops
    ERROR = "error"


@dataclass
class Step:
    sent: Sent
    marked: list[str] = field(default_factory=list)
    error: str = ""
    wait: float | None = None  # seconds the server asked for (Retry-After)


class RemoteCamera:
    """Posts one go2rtc stream's snapshots to ``server`` as the device whose ``token`` it holds."""

    def __init__(self, *, server: str, token: str, go2rtc_url: str, stream: str, interval: float | None = None):
        for url in (server, go2rtc_url):
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ValueError(f"{url!r}: the URL must start with http:// or https://")
        self.server = server.rstrip("/")
        self.token = token
        self.stream = stream
        self.snapshot_url = f"{go2rtc_url.rstrip('/')}/api/frame.jpeg?{urlencode({'src': stream})}"
        self.interval = interval or settings.ATTENDANCE["CAMERA_INTERVAL_SECONDS"]
        self.timeout = settings.ATTENDANCE["CAMERA_TIMEOUT_SECONDS"]
        self.errors = 0
        self._last_digest = ""
        self._idle = True  # ask the server whether anything is open before the first snapshot
        self._wait: float | None = None

    @property
    def delay(self) -> float:
        if self._wait is not None:
            return self._wait
        return backoff_delay(self.interval, self.errors)

    def poll_once(self) -> Step:
        """One step; network failures and refusals are counted and reported, never raised."""
        self._wait = None
        try:
            step = self._step()
        except FETCH_ERRORS as error:
            step = Step(Sent.ERROR, error=str(error) or type(error).__name__)
        if step.sent is Sent.ERROR:
            self.errors += 1
            logger.warning("camera %s: %s (next try in %.1f s)", self.stream, step.error, self.delay)
        elif step.sent is not Sent.BUSY:
            self.errors = 0
        self._wait = step.wait
        return step

    def run(self, stop: threading.Event) -> Step | None:
        """Poll until ``stop`` is set; returns the REVOKED step if the server refused the token."""
        logger.info("camera %s: posting snapshots to %s every %.1f s", self.stream, self.server, self.interval)
        while not stop.is_set():
            step = self.poll_once()
            if step.sent is Sent.REVOKED:
                logger.error("camera %s: %s", self.stream, step.error)
                return step
            stop.wait(self.delay)
        logger.info("camera %s stopped", self.stream)
        return None

    def _step(self) -> Step:
        if self._idle:
            status, body, _ = self._call("GET", "/api/v1/devices/me")
            if status != 200:
                return self._refused(status, body, {})
            if not body.get("sessions_open"):
                return Step(Sent.IDLE)
            self._idle = False
        frame = self._fetch()
        digest = image_digest(frame)
        if digest == self._last_digest:
            return Step(Sent.UNCHANGED)
        status, body, headers = self._post_frame(frame, digest)
        if status in (200, 201):
            self._last_digest = digest
            marked = [face["person"]["name"] for face in body.get("faces", []) if face.get("result") == "checked_in"]
            for name in marked:
                logger.info("camera %s marked %s", self.stream, name)
            return Step(Sent.POSTED, marked=marked)
        if status == 409:
            self._idle = True
            return Step(Sent.IDLE)
        return self._refused(status, body, headers)

    def _refused(self, status: int, body: dict, headers) -> Step:
        detail = body.get("detail") or f"HTTP {status}"
        if status == 401:
            return Step(Sent.REVOKED, error=f"the server refused the device token ({detail}); issue a new one")
        if status in (429, 503):
            wait = _seconds(headers.get("Retry-After")) if headers else None
            return Step(Sent.BUSY, error=detail, wait=wait or backoff_delay(self.interval, 1))
        return Step(Sent.ERROR, error=f"HTTP {status}: {detail}")

    def _fetch(self) -> bytes:
        request = urllib.request.Request(self.snapshot_url, headers={"Accept": "image/jpeg"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked in __init__
            return response.read(settings.FACES["MAX_UPLOAD_BYTES"] + 1)

    def _post_frame(self, frame: bytes, digest: str):
        boundary = secrets.token_hex(16)
        body = b"".join(
            [
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'.encode(),
                b"Content-Type: image/jpeg\r\n\r\n",
                frame,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        # A retry of the same frame after a lost answer gets the first answer back, and marks nothing twice.
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Idempotency-Key": f"cam-{digest[:40]}"}
        return self._call("POST", "/api/v1/check-ins", body=body, headers=headers)

    def _call(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None):
        """(status, JSON body or {}, response headers) of one request to the server."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.server + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + 20) as response:  # noqa: S310
                return response.status, _json(response.read()), response.headers
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read()), error.headers


def _json(raw: bytes) -> dict:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _seconds(value) -> float | None:
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return None
