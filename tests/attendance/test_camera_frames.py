"""Camera frames on Celery: the poller enqueues go2rtc snapshots, a real worker process checks them in.

The worker is a separate ``celery worker -Q frames`` process (tests/celery_worker.py) on this test's
database and Redis; the go2rtc stand-in (tests/attendance/go2rtc.py) serves real photos.
"""

import base64
import logging
import signal
import threading
import time

import pytest
import redis
from django.conf import settings
from PIL import Image

from attendance import frames
from attendance.cameras import CameraPoller, Outcome
from attendance.frames import enqueue_frame, frame_counts, frames_waiting, recognise_frame
from attendance.models import Camera, Record
from faces.images import image_digest
from tests.celery_worker import running_command, running_worker, stopped_at_once, worker_env
from tests.conftest import free_port
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)

# The worker loads the recognition engine on its first frame (a few seconds): the frames of a test that
# must be recognised may wait that long. The test of the age limit keeps the default.
PATIENT = {"ATTENDANCE_CAMERA_FRAME_MAX_AGE_SECONDS": "60"}


@pytest.fixture
def empty_queues(transactional_db):
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()


@pytest.fixture
def camera(go2rtc):
    return Camera.objects.create(name="entrance", go2rtc_url=go2rtc.url, location="Room 7", interval_seconds=1)


@pytest.fixture
def patient(settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_FRAME_MAX_AGE_SECONDS": 60.0}


def wait_for(check, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {frame_counts()}")
        time.sleep(0.1)


def handled(count: int):
    return lambda: sum(frame_counts().values()) >= count


def test_frames_of_an_enrolled_person_go_through_poller_queue_and_worker_and_mark_them_once(
    camera, go2rtc, classroom, shared_photos, empty_queues
):
    frames_of_her = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    go2rtc.play("entrance", *frames_of_her)  # the second frame then repeats: unchanged, not enqueued
    env = worker_env(**PATIENT)
    with running_worker(name="frames", queues="frames", env=PATIENT) as worker:
        with running_command("camera_poller", "--interval", "0.5", env=env) as poller:
            wait_for(Record.objects.exists)
            wait_for(lambda: go2rtc.requests.count("entrance") >= 5)  # three more polls of the same frame
            out, logs = stopped_at_once(poller)
    assert poller.returncode == 0, logs
    assert out.strip() == "polling 1 camera(s): entrance"
    assert "Traceback" not in logs
    worker_logs = worker.stdout.read()
    record = Record.objects.get()
    camera.refresh_from_db()
    assert record.person == classroom.people["angelina_jolie"] and record.session == classroom.session
    assert record.method == "camera" and record.device == camera.device and record.status == "present"
    assert frame_counts() == {"checked": 2}  # two distinct frames: the repeats were never enqueued
    assert f"camera entrance marked {record.person} present at" in worker_logs
    assert frames_waiting() == 0


def test_an_old_frame_is_dropped_not_recognised(camera, classroom, shared_photos, empty_queues):
    data = shared_photos["angelina_jolie/05.jpg"].data
    first, second = variants.burst(data)
    with running_worker(name="frames", queues="frames"):  # the default age limit, 4 s
        captured = time.time() - 10
        enqueue_frame(camera, first, digest=image_digest(first), captured_at=captured)
        enqueue_frame(camera, second, digest=image_digest(second), captured_at=captured + 0.5)
        wait_for(handled(2))
    assert frame_counts() == {"stale": 2}
    assert not Record.objects.exists()


def test_a_frame_queued_while_no_worker_runs_expires_in_the_queue(camera, shared_photos, empty_queues, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_FRAME_MAX_AGE_SECONDS": 1.0}
    data = shared_photos["joe_biden/02.jpg"].data
    enqueue_frame(camera, data, digest=image_digest(data), captured_at=time.time())
    assert frames_waiting() == 1
    time.sleep(1.5)
    with running_worker(name="frames", queues="frames") as worker:
        wait_for(lambda: frames_waiting() == 0, seconds=30)
        time.sleep(0.5)
    assert frame_counts() == {}  # discarded by Celery before our task ran
    assert "expired" in worker.stdout.read().lower()


def test_the_same_frame_delivered_twice_makes_one_record(camera, classroom, shared_photos, empty_queues, patient):
    burst = variants.burst(shared_photos["barack_obama/02.jpg"].data)
    now = time.time()
    messages = [
        {"camera": str(camera.pk), "captured_at": now + i * 0.5, "digest": image_digest(d), "frame": ""}
        for i, d in enumerate(burst)
    ]
    for message, data in zip(messages, burst, strict=True):
        message["frame"] = base64.b64encode(data).decode()
    CameraPoller(camera)  # creates the camera's device account, as the poller does before enqueuing
    with running_worker(name="frames", queues="frames", env=PATIENT):
        # Each task published twice with the same id: what acks late does after a lost worker.
        for message in messages:
            for _ in range(2):
                recognise_frame.apply_async(kwargs=message, task_id=f"frame-{message['digest'][:16]}")
        wait_for(handled(4))
        assert frame_counts() == {"checked": 2, "duplicate": 2}
        # Without the markers (Redis flushed, or two workers at once): the database still holds one record.
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).flushdb()
        for message in messages:
            recognise_frame.apply_async(kwargs=message)
        wait_for(handled(2))
    assert frame_counts() == {"checked": 2}
    record = Record.objects.get()
    assert record.person == classroom.people["barack_obama"] and record.method == "camera"


def test_poller_errors_back_off_up_to_the_cap_and_a_good_frame_resets(
    camera, go2rtc, lesson, shared_photos, settings, empty_queues
):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_MAX_BACKOFF_SECONDS": 5}
    burst = variants.burst(shared_photos["barack_obama/02.jpg"].data)
    go2rtc.play("entrance", 500, b"not a jpeg at all", 503, 500, *burst)
    poller = CameraPoller(camera)
    outcomes, delays = [], []
    for _ in range(7):
        outcomes.append(poller.poll_once().outcome)
        delays.append(poller.delay)
    assert outcomes == [Outcome.ERROR] * 4 + [Outcome.QUEUED] * 2 + [Outcome.UNCHANGED]
    assert delays == [2, 4, 5, 5, 1, 1, 1]
    assert frames_waiting() == 2  # the garbage never reached the queue


def test_with_the_broker_down_the_poller_backs_off_and_still_stops_at_once(camera, go2rtc, lesson, shared_photos):
    go2rtc.play("entrance", shared_photos["joe_biden/02.jpg"].data)
    env = worker_env(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/1")
    with running_command("camera_poller", "--interval", "0.5", env=env) as poller:
        lines: list[str] = []

        def read_logs():
            for line in poller.stderr:
                lines.append(line)

        reader = threading.Thread(target=read_logs, daemon=True)
        reader.start()
        # Errors at 0, 1 and 3 s: waits of 1, 2 and 4 s. SIGTERM in the 4-second wait must end it at once.
        wait_for(lambda: any("next snapshot in 4.0 s" in line for line in lines), seconds=60)
        poller.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        poller.wait(timeout=10)
        assert time.monotonic() - sent < 2
        reader.join(timeout=10)
    logs = "".join(lines)
    assert poller.returncode == 0, logs
    assert "Connection refused. (next snapshot in 1.0 s)" in logs
    assert "Connection refused. (next snapshot in 2.0 s)" in logs
    assert "Traceback" not in logs and go2rtc.requests == []  # no snapshot while frames cannot be queued


def test_a_full_queue_stops_the_snapshots_and_says_so_once(camera, go2rtc, lesson, settings, empty_queues, caplog):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_FRAME_BACKLOG": 2}
    go2rtc.play("entrance", *[variants.jpeg(Image.new("RGB", (64, 48), (shade,) * 3)) for shade in (10, 20, 30)])
    poller = CameraPoller(camera)
    caplog.set_level(logging.WARNING, logger="attendance.cameras")
    outcomes = [poller.poll_once().outcome for _ in range(4)]
    assert outcomes == [Outcome.QUEUED, Outcome.QUEUED, Outcome.BACKLOG, Outcome.BACKLOG]
    assert go2rtc.requests == ["entrance"] * 2 and frames_waiting() == 2
    assert [m for m in caplog.messages if "wait for a worker" in m] == [
        "camera entrance: 2 frames wait for a worker; no snapshot meanwhile"
    ]
    assert poller.errors == 0 and poller.delay == 1


def test_the_frame_task_is_routed_to_its_own_queue():
    assert settings.CELERY_TASK_ROUTES[recognise_frame.name] == {"queue": frames.QUEUE}
