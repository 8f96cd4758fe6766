"""Camera frames on Celery: pollers enqueue go2rtc snapshots, recognition workers on any host check them in.

A frame travels in its message (base64 JPEG, with its camera, digest and capture time) on the
``frames`` queue. A worker drops a frame older than ``CAMERA_FRAME_MAX_AGE_SECONDS``; a frame already
handled (the same camera and digest, e.g. redelivered after acks late) is not handled again, and the
database keeps one record per person per session whatever happens.
"""

import base64
import logging
import time
from datetime import UTC, datetime
from enum import StrEnum

from celery import shared_task
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError

from attendance.models import Camera
from attendance.services import NoSessionRunning
from attendx.cache import RedisClient, guarded
from faces.exceptions import ImageRejected, RecognitionUnavailable
from faces.images import image_digest
from faces.uploads import decode_upload

logger = logging.getLogger(__name__)

QUEUE = "frames"  # settings.CELERY_TASK_ROUTES sends recognise_frame here
COUNTS_KEY = "camera-frames:counts"


class FrameOutcome(StrEnum):
    CHECKED = "checked"  # recognised (a mark needs agreeing frames: attendance.agreement)
    STALE = "stale"  # older than CAMERA_FRAME_MAX_AGE_SECONDS when a worker took it: dropped
    DUPLICATE = "duplicate"  # this camera's frame with these bytes was handled already
    REJECTED = "rejected"  # not a usable image, or its bytes do not match its digest
    IDLE = "idle"  # no session runs at the camera's location any more
    GONE = "gone"  # the camera was deleted or deactivated meanwhile
    ERROR = "error"  # recognition unavailable or a database error: logged


def max_age() -> float:
    return settings.ATTENDANCE["CAMERA_FRAME_MAX_AGE_SECONDS"]


def enqueue_frame(camera: Camera, data: bytes, *, digest: str, captured_at: float) -> str:
    """Put one snapshot on the frames queue; returns the task id. Raises kombu's OperationalError when the
    broker cannot be reached (after one quick retry): a frame is worth nothing a few seconds later."""
    result = recognise_frame.apply_async(
        kwargs={
            "camera": str(camera.pk),
            "captured_at": captured_at,
            "digest": digest,
            "frame": base64.b64encode(data).decode("ascii"),
        },
        expires=max_age(),
        retry=True,
        retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0, "interval_max": 0.2},
    )
    return result.id


def frames_waiting() -> int:
    """Frames in the queue now, not yet taken by a worker (Redis lists, all priorities)."""
    with recognise_frame.app.pool.acquire(block=True) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0, interval_max=0.2)
        # Not passive: before the first frame is published, the queue is not known to the broker yet.
        return connection.default_channel.queue_declare(queue=QUEUE).message_count


def frame_counts() -> dict[str, int]:
    """How many frames workers have handled, by outcome, since the cache was last cleared."""
    cache = caches["default"]
    raw = guarded("default", lambda: cache.client.get_client().hgetall(cache.make_key(COUNTS_KEY)), fallback={})
    return {key.decode(): int(value) for key, value in raw.items()}


def _count(outcome: FrameOutcome) -> FrameOutcome:
    cache = caches["default"]
    guarded("default", lambda: cache.client.get_client(write=True).hincrby(cache.make_key(COUNTS_KEY), outcome, 1))
    return outcome


def _handled_key(camera: str, digest: str) -> str:
    return f"camera-frame:{camera}:{digest}"


@shared_task(name="attendance.recognise_frame", ignore_result=True)
def recognise_frame(*, camera: str, captured_at: float, digest: str, frame: str) -> str:
    """Check in the faces of one camera frame, unless it is too old or was handled already."""
    age = time.time() - captured_at
    if age > max_age():
        logger.info("camera frame %s of camera %s dropped: %.1f s old", digest[:12], camera, age)
        return _count(FrameOutcome.STALE)
    handled = RedisClient()
    if handled.exists(_handled_key(camera, digest)):
        return _count(FrameOutcome.DUPLICATE)
    found = Camera.objects.filter(pk=camera, is_active=True).select_related("device").first()
    if found is None or found.device is None:
        return _count(FrameOutcome.GONE)
    try:
        data = base64.b64decode(frame, validate=True)
    except ValueError:  # binascii.Error
        data = b""
    if image_digest(data) != digest:
        logger.warning("camera %s: a frame's bytes are not base64 or do not match its digest", found)
        return _count(FrameOutcome.REJECTED)
    from attendance.cameras import check_in_camera_frame  # cameras enqueues through this module

    try:
        image = decode_upload(data, frame=True)
        check_in_camera_frame(found, found.device, image, moment=datetime.fromtimestamp(captured_at, tz=UTC))
    except ImageRejected as error:
        logger.warning("camera %s: %s", found, error.message)
        return _count(FrameOutcome.REJECTED)
    except NoSessionRunning:
        return _count(FrameOutcome.IDLE)
    except (RecognitionUnavailable, DatabaseError) as error:
        logger.warning("camera %s: frame not recognised: %s", found, getattr(error, "message", "") or error)
        return _count(FrameOutcome.ERROR)
    # Marked after the work, not before: a worker killed mid-frame leaves it to be handled again.
    handled.set(_handled_key(camera, digest), 1, expire=max(60, int(10 * max_age())))
    return _count(FrameOutcome.CHECKED)
