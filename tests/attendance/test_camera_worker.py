"""IP cameras through go2rtc: a stand-in go2rtc serves real photos; the worker marks, skips, backs off, stops.

No go2rtc binary can be installed here: tests/attendance/go2rtc.py answers go2rtc's snapshot endpoint,
``GET /api/frame.jpeg?src=NAME``, with a script of frames and errors per stream.
"""

import logging
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format

import attendance.services
from accounts.models import Role
from attendance.cameras import CameraWorker, Outcome
from attendance.models import Camera, Group, Record
from faces.images import image_digest
from tests.attendance.conftest import make_session
from tests.attendance.go2rtc import Stall
from tests.celery_worker import running_command, stopped_at_once, wait_for, worker_env
from tests.conftest import free_port
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def camera(go2rtc):
    return Camera.objects.create(name="entrance", go2rtc_url=go2rtc.url, location="Room 7", interval_seconds=1)


@pytest.fixture
def recognitions(monkeypatch):
    """Count the frames that reach recognition (the digest cache would hide calls into the engine)."""
    calls = []
    real = attendance.services.face_identify

    def counted(**kwargs):
        calls.append(kwargs["image"].digest)
        return real(**kwargs)

    monkeypatch.setattr(attendance.services, "face_identify", counted)
    return calls


def test_two_frames_of_an_enrolled_person_mark_them_once_by_camera(
    camera, go2rtc, classroom, shared_photos, recognitions, caplog
):
    caplog.set_level(logging.INFO, logger="attendance.cameras")
    frames = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    go2rtc.play("entrance", *frames)
    worker = CameraWorker(camera)

    first = worker.poll_once()
    assert first.outcome is Outcome.CHECKED and first.marked == [] and not Record.objects.exists()
    poll = worker.poll_once()
    assert poll.outcome is Outcome.CHECKED
    angelina = classroom.people["angelina_jolie"]
    record = Record.objects.get()
    assert poll.marked == [record]
    assert record.person == angelina and record.session == classroom.session and record.status == "present"
    assert record.method == "camera" and 0 < record.distance < 0.07
    camera.refresh_from_db()
    assert record.device == camera.device
    assert camera.device.username == "camera-entrance" and camera.device.role == Role.KIOSK
    assert not camera.device.has_usable_password()
    when = time_format(timezone.localtime(record.marked_at), "H:i")
    assert f"camera entrance marked {angelina} present at {when}" in caplog.messages

    caplog.clear()
    assert worker.poll_once().outcome is Outcome.UNCHANGED
    assert go2rtc.requests == ["entrance"] * 3
    assert recognitions == [image_digest(frame) for frame in frames]
    assert Record.objects.count() == 1 and caplog.messages == []


def test_a_stranger_marks_nothing(camera, go2rtc, classroom, shared_photos, recognitions):
    go2rtc.play("entrance", shared_photos["steve_carell/01.jpg"].data)
    poll = CameraWorker(camera).poll_once()
    assert poll.outcome is Outcome.CHECKED and poll.marked == []
    assert len(recognitions) == 1 and not Record.objects.exists()


def test_without_a_session_at_its_location_the_camera_is_not_even_asked(go2rtc, classroom, shared_photos, recognitions):
    lab = Camera.objects.create(name="lab", go2rtc_url=go2rtc.url, location="Lab")
    make_session(classroom.group, started_minutes_ago=120, length_minutes=60, location="Lab")  # ended
    go2rtc.play("lab", shared_photos["angelina_jolie/05.jpg"].data)
    assert CameraWorker(lab).poll_once().outcome is Outcome.IDLE
    assert go2rtc.requests == [] and recognitions == [] and not Record.objects.exists()


def test_only_sessions_at_the_location_count_and_each_person_goes_to_theirs(camera, go2rtc, classroom, shared_photos):
    # Kit is in two clubs: one meets now in Room 9, the other opens in Room 7 in ten minutes.
    kit = classroom.people["kit_harington"]
    for name, location, minutes_ago in [("Chess", "Room 9", 5), ("Drama", "Room 7", -10)]:
        club = Group.objects.create(name=name)
        club.members.set([kit])
        make_session(club, title=name, location=location, started_minutes_ago=minutes_ago)
    go2rtc.play("entrance", *variants.burst(shared_photos["kit_harington/02.jpg"].data))
    worker = CameraWorker(camera)
    assert worker.poll_once().marked == []
    [record] = worker.poll_once().marked
    assert record.person == kit and record.session.title == "Drama"


def test_errors_back_off_up_to_the_cap_and_a_good_frame_resets(
    camera, go2rtc, classroom, shared_photos, recognitions, settings
):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_MAX_BACKOFF_SECONDS": 5}
    frames = variants.burst(shared_photos["barack_obama/02.jpg"].data)
    go2rtc.play("entrance", 500, b"not a jpeg at all", 503, 500, *frames)
    worker = CameraWorker(camera)
    outcomes, delays = [], []
    for _ in range(6):
        poll = worker.poll_once()
        outcomes.append(poll.outcome)
        delays.append(worker.delay)
    assert outcomes == [Outcome.ERROR] * 4 + [Outcome.CHECKED] * 2
    assert delays == [2, 4, 5, 5, 1, 1]
    assert [record.person.username for record in Record.objects.all()] == ["barack_obama"]
    assert len(recognitions) == 2  # the garbage was refused before recognition


def test_a_snapshot_over_the_frame_pixel_limit_is_refused_before_recognition(
    camera, go2rtc, classroom, shared_photos, recognitions, settings
):
    settings.FACES = {**settings.FACES, "MAX_FRAME_PIXELS": 500_000}
    go2rtc.play("entrance", shared_photos["angelina_jolie/05.jpg"].data)  # 750x1050, a photo's limit would pass
    poll = CameraWorker(camera).poll_once()
    assert poll.outcome is Outcome.ERROR
    assert poll.error == "The image is 750x1050 pixels; photos may have at most 0.5 megapixels."
    assert recognitions == [] and not Record.objects.exists()


@pytest.mark.parametrize("trouble", ["refused", "unknown stream", "timeout", "recognition unavailable"])
def test_no_error_escapes_a_poll(trouble, camera, go2rtc, classroom, shared_photos, settings, tmp_path):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CAMERA_TIMEOUT_SECONDS": 0.3}
    go2rtc.play("entrance", shared_photos["amy_adams/01.jpg"].data)
    if trouble == "refused":
        camera.go2rtc_url = f"http://127.0.0.1:{free_port()}"
    elif trouble == "unknown stream":
        camera.stream = "no-such-stream"
    elif trouble == "timeout":
        go2rtc.play("entrance", Stall(1.0))
    else:
        settings.DEEPFACE_HOME = tmp_path  # no weights, and these bytes are not in the digest cache
        go2rtc.play("entrance", shared_photos["amy_adams/01.jpg"].data + b"\0")
    worker = CameraWorker(camera)
    poll = worker.poll_once()
    assert poll.outcome is Outcome.ERROR and poll.error
    assert worker.errors == 1 and worker.delay == 2
    assert not Record.objects.exists()


def test_run_stops_as_soon_as_the_event_is_set(camera, go2rtc, classroom, shared_photos):
    go2rtc.play("entrance", *variants.burst(shared_photos["joe_biden/02.jpg"].data))
    worker, stop = CameraWorker(camera, interval=60), threading.Event()
    assert worker.poll_once().marked == []  # the first frame; the run's first poll takes the second

    def run():
        try:
            worker.run(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not Record.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert Record.objects.get().person.username == "joe_biden" and go2rtc.requests == ["entrance"] * 2


def test_an_unexpected_error_is_logged_and_backed_off_not_raised(camera, caplog, monkeypatch):
    worker, stop = CameraWorker(camera), threading.Event()

    def broken():
        stop.set()
        raise RuntimeError("a bug")

    monkeypatch.setattr(worker, "_poll", broken)
    worker.run(stop)
    assert worker.errors == 1 and worker.delay == 2
    assert any("unexpected error" in message for message in caplog.messages)


def test_the_command_once(camera, go2rtc, classroom, shared_photos, capsys):
    go2rtc.play("entrance", *variants.burst(shared_photos["amy_adams/01.jpg"].data))
    call_command("camera_worker", camera="entrance", once=True)
    assert capsys.readouterr().out.strip() == "checked"  # one frame marks nobody
    call_command("camera_worker", camera="entrance", once=True)
    assert capsys.readouterr().out.strip() == f"checked: marked {classroom.people['amy_adams']} (present)"
    go2rtc.play("entrance", 500)
    with pytest.raises(CommandError, match="Internal Server Error"):
        call_command("camera_worker", camera="entrance", once=True)
    classroom.session.delete()
    call_command("camera_worker", camera="entrance", once=True)
    assert capsys.readouterr().out.strip() == "idle: no session is running at Room 7"


def test_the_command_refuses_unknown_and_inactive_cameras(camera):
    with pytest.raises(CommandError, match="No active camera named 'hall'"):
        call_command("camera_worker", camera="hall", once=True)
    Camera.objects.filter(pk=camera.pk).update(is_active=False)
    with pytest.raises(CommandError, match="No active camera named 'entrance'"):
        call_command("camera_worker", camera="entrance", once=True)
    with pytest.raises(CommandError, match="--interval must be a positive"):
        call_command("camera_worker", camera="entrance", interval=0)


def test_the_worker_process_marks_then_stops_cleanly_on_sigterm(camera, go2rtc, classroom, shared_photos):
    go2rtc.play("entrance", *variants.burst(shared_photos["angelina_jolie/05.jpg"].data))
    # This process sees the first frame; the worker's first snapshot agrees with it through Redis.
    assert CameraWorker(camera).poll_once().marked == []
    env = worker_env()  # this test's database (the SQLite file or the MongoDB test database), Redis, media
    with running_command("camera_worker", "--camera", "entrance", "--interval", "60", env=env) as worker:
        wait_for(Record.objects.exists, timeout=60, what="a mark")
        assert Record.objects.filter(method="camera").count() == 1
        _, logs = stopped_at_once(worker)  # now inside its 60-second wait: SIGTERM must end it at once
    assert worker.returncode == 0, logs
    assert f"camera entrance marked {classroom.people['angelina_jolie']} present at" in logs
    assert "camera entrance stopped" in logs
    assert "Traceback" not in logs


def test_the_admin_creates_the_cameras_device_account(admin_client, go2rtc, user_factory):
    add = reverse("admin:attendance_camera_add")
    form = {"name": "hall", "go2rtc_url": go2rtc.url, "stream": "", "location": "Hall", "is_active": "on"}
    assert admin_client.post(add, form).status_code == 302
    camera = Camera.objects.get(name="hall")
    assert camera.device.username == "camera-hall" and camera.device.role == Role.KIOSK
    assert camera.snapshot_url == f"{go2rtc.url}/api/frame.jpeg?src=hall"
    page = admin_client.get(reverse("admin:attendance_camera_changelist"), {"q": "Hall"})
    assert str(camera.device) == "Camera hall"
    assert page.status_code == 200 and "Camera hall" in page.content.decode()

    user_factory(username="camera-gate", role="member")
    refused = admin_client.post(add, {**form, "name": "gate"})
    assert refused.status_code == 200 and "camera-gate exists already" in refused.content.decode()
    assert not Camera.objects.filter(name="gate").exists()
