"""IP cameras through go2rtc: take a snapshot, check in the faces it shows (or enqueue it), wait, repeat.

``CameraWorker.poll_once`` does one step and says what happened; ``run`` repeats it until its stop event
is set, backing off exponentially (capped) while errors repeat. ``manage.py camera_worker`` runs one and
recognises in process; ``CameraPoller`` enqueues the frames for Celery workers instead (attendance.frames),
and ``manage.py camera_poller`` runs one per camera, each in its own thread of one process.
"""

import http.client
import io
import logging
import signal
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone
from django.utils.formats import time_format
from kombu.exceptions import OperationalError
from PIL import Image, UnidentifiedImageError

from accounts.devices import device_account
from attendance import frames
from attendance.models import Camera, Method, Record, Session
from attendance.outcomes import CheckIn, Result
from attendance.services import NoSessionRunning, check_in_by_face
from faces.exceptions import ImageRejected, RecognitionUnavailable
from faces.images import image_digest
from faces.uploads import decode_upload

logger = logging.getLogger(__name__)

# URLError, HTTPError, timeouts and refused connections are all OSErrors; a cut response is not.
FETCH_ERRORS = (OSError, http.client.HTTPException)
# OperationalError: the broker (Redis) cannot be reached to enqueue a frame.
POLL_ERRORS = (*FETCH_ERRORS, ImageRejected, RecognitionUnavailable, DatabaseError, OperationalError)


def run_until_signalled(loops: dict[str, Callable[[threading.Event], object]]) -> dict[str, object]:
    """Run each loop (given the shared stop event) in a thread named by its key until all return or
    SIGTERM/SIGINT sets the event; what each returned, or the exception it raised, by name.

    The main thread only joins: a signal handler that set the event while the same thread waited on it
    could deadlock. For the camera commands (camera_worker, camera_poller, camera_client).
    """
    stop = threading.Event()
    results: dict[str, object] = {}

    def run(name, loop):
        try:
            results[name] = loop(stop)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            results[name] = error
        finally:
            connections.close_all()  # this thread's own connections

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    threads = [threading.Thread(target=run, args=item, name=item[0]) for item in loops.items()]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return results


def backoff_delay(interval: float, errors: int) -> float:
    """Seconds until the next poll: the interval, doubled for every consecutive error, capped."""
    if not errors:
        return interval
    cap = max(settings.ATTENDANCE["CAMERA_MAX_BACKOFF_SECONDS"], interval)
    return min(interval * 2 ** min(errors, 32), cap)


def camera_device(camera: Camera):
    """The kiosk account the camera's check-ins are recorded under (accounts.devices), created and linked
    on first use. Raises ValidationError when the username ``camera-<name>`` belongs to somebody else.
    """
    if camera.device_id is not None:
        return camera.device
    camera.clean()
    # No transaction needed: an account left unlinked by a failure here is taken up on the next call.
    device = device_account(username=camera.device_username, first_name="Camera", last_name=camera.name, reuse=True)
    camera.device = device
    if camera.pk is not None:
        camera.save(update_fields=["device"])
    return device


def check_in_camera_frame(camera: Camera, device, image, *, moment) -> CheckIn:
    """Check in the faces of one frame of ``camera`` for the sessions at its location, seen at ``moment``;
    the marks and reviews are logged. In-process (CameraWorker) and on a worker (attendance.frames)."""
    check_in = check_in_by_face(
        frames=[image], device=device, location=camera.location, method=Method.CAMERA, moment=moment
    )
    for record in check_in.marked:
        when = time_format(timezone.localtime(record.marked_at), "H:i")
        logger.info("camera %s marked %s %s at %s", camera, record.person, record.status, when)
    if any(face.result is Result.REVIEW for face in check_in.faces):
        logger.info("camera %s: a face waits for review by staff", camera)
    return check_in


class Outcome(StrEnum):
    IDLE = "idle"  # no session running at the camera's location: no snapshot taken
    UNCHANGED = "unchanged"  # the same bytes as the last recognised frame: not recognised again
    CHECKED = "checked"  # recognised; ``Poll.marked`` holds the records it created (frames must agree)
    QUEUED = "queued"  # enqueued for a recognition worker (CameraPoller)
    BACKLOG = "backlog"  # the frames queue is full (workers down or too few): no snapshot taken
    ERROR = "error"


@dataclass
class Poll:
    outcome: Outcome
    marked: list[Record] = field(default_factory=list)
    error: str = ""


class CameraWorker:
    """Polls one camera's snapshot endpoint and checks in the faces for the sessions at its location."""

    def __init__(self, camera: Camera, *, interval: float | None = None):
        if urlsplit(camera.snapshot_url).scheme not in {"http", "https"}:
            raise ValueError(f"camera {camera}: the go2rtc URL must start with http:// or https://")
        self.camera = camera
        self.device = camera_device(camera)
        self.interval = interval or camera.interval
        self.errors = 0  # consecutive failed polls
        self._last_seen: tuple[str, tuple] | None = None  # (frame digest, session keys) last recognised

    @property
    def delay(self) -> float:
        return backoff_delay(self.interval, self.errors)

    def poll_once(self) -> Poll:
        """One snapshot, recognised unless nothing changed; errors are counted and reported, never raised."""
        close_old_connections()  # as Django does around a request: drop a broken or expired connection
        try:
            poll = self._poll()
        except POLL_ERRORS as error:
            self.errors += 1
            message = getattr(error, "message", "") or str(error) or type(error).__name__
            logger.warning("camera %s: %s (next snapshot in %.1f s)", self.camera, message, self.delay)
            return Poll(Outcome.ERROR, error=message)
        if poll.outcome is not Outcome.IDLE:
            self.errors = 0
        return poll

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; the wait between polls ends as soon as it is."""
        logger.info(
            "camera %s: watching stream %s for sessions at %s every %.1f s",
            self.camera,
            self.camera.stream_name,
            self.camera.location,
            self.interval,
        )
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - a bug in one frame must not stop the camera; it is logged
                self.errors += 1
                logger.exception("camera %s: unexpected error (next snapshot in %.1f s)", self.camera, self.delay)
            stop.wait(self.delay)
        logger.info("camera %s stopped", self.camera)

    def _poll(self) -> Poll:
        moment = timezone.now()
        running = Session.objects.running_at(moment).filter(location=self.camera.location)
        sessions = tuple(str(pk) for pk in running.values_list("pk", flat=True))
        if not sessions:
            return Poll(Outcome.IDLE)
        if (busy := self._before_fetch()) is not None:
            return busy
        frame = self._fetch()
        seen = (image_digest(frame), sessions)
        if seen == self._last_seen:
            return Poll(Outcome.UNCHANGED)
        poll = self._take(frame, digest=seen[0], moment=moment)
        if poll.outcome is not Outcome.IDLE:
            self._last_seen = seen
        return poll

    def _before_fetch(self) -> Poll | None:
        return None

    def _take(self, frame: bytes, *, digest: str, moment) -> Poll:
        image = decode_upload(frame, frame=True)
        try:
            check_in = check_in_camera_frame(self.camera, self.device, image, moment=moment)
        except NoSessionRunning:
            return Poll(Outcome.IDLE)  # the session closed between the two queries
        return Poll(Outcome.CHECKED, marked=check_in.marked)

    def _fetch(self) -> bytes:
        """The current frame from go2rtc; at most one byte over the upload limit, which decoding refuses."""
        # S310: the scheme is checked in __init__, http or https only.
        request = urllib.request.Request(self.camera.snapshot_url, headers={"Accept": "image/jpeg"})  # noqa: S310
        timeout = settings.ATTENDANCE["CAMERA_TIMEOUT_SECONDS"]
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.read(settings.FACES["MAX_UPLOAD_BYTES"] + 1)


class CameraPoller(CameraWorker):
    """Polls one camera like ``CameraWorker`` but enqueues each new frame for a recognition worker.

    The frame is only checked to be an image within the upload limit here (its header, not its pixels):
    a camera answering garbage backs off as before. While the frames queue holds ``CAMERA_FRAME_BACKLOG``
    frames, no snapshot is taken: frames are worthless a few seconds later, so none pile up.
    """

    def __init__(self, camera: Camera, *, interval: float | None = None):
        super().__init__(camera, interval=interval)
        self._backlogged = False

    def _before_fetch(self) -> Poll | None:
        backlog = settings.ATTENDANCE["CAMERA_FRAME_BACKLOG"]
        waiting = frames.frames_waiting()
        if waiting < backlog:
            self._backlogged = False
            return None
        if not self._backlogged:  # once per episode, not once per poll
            logger.warning("camera %s: %d frames wait for a worker; no snapshot meanwhile", self.camera, waiting)
        self._backlogged = True
        return Poll(Outcome.BACKLOG)

    def _take(self, frame: bytes, *, digest: str, moment) -> Poll:
        if len(frame) > settings.FACES["MAX_UPLOAD_BYTES"]:
            raise ImageRejected("The snapshot is larger than the upload limit.", code="too_large", status=413)
        try:
            Image.open(io.BytesIO(frame)).close()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise ImageRejected("The snapshot is not an image.", code="not_an_image") from error
        # Captured when go2rtc answered (it waits for the camera's next key frame), not when it was asked.
        frames.enqueue_frame(self.camera, frame, digest=digest, captured_at=timezone.now().timestamp())
        return Poll(Outcome.QUEUED)
