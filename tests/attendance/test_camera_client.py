"""A camera on another host (attendance.remote_camera): go2rtc snapshots posted to the live server with
the camera device's token; the server marks, the client never touches a database."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from accounts.devices import issue_token, register_device
from accounts.models import DeviceKind, DeviceToken
from attendance.models import Method, Record
from attendance.remote_camera import RemoteCamera, Sent
from tests.celery_worker import running_command, stopped_at_once, wait_for
from tests.conftest import free_port
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def camera_device(db):
    return register_device(name="gate-cam", kind=DeviceKind.CAMERA, location="Room 7")


def remote(live_server, go2rtc, token, **options):
    return RemoteCamera(server=live_server.url, token=token, go2rtc_url=go2rtc.url, stream="gate", **options)


def test_frames_posted_with_the_token_mark_the_person_once(
    live_server, go2rtc, classroom, shared_photos, camera_device
):
    frames = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    go2rtc.play("gate", *frames)
    camera = remote(live_server, go2rtc, issue_token(device=camera_device).secret)
    first = camera.poll_once()
    assert first.sent is Sent.POSTED and first.marked == []  # one frame: not agreed yet
    second = camera.poll_once()
    assert second.sent is Sent.POSTED and second.marked == [str(classroom.people["angelina_jolie"])]
    record = Record.objects.get()
    assert record.device == camera_device.account and record.method == Method.CAMERA
    assert camera.poll_once().sent is Sent.UNCHANGED  # the script repeats its last frame
    assert Record.objects.count() == 1


def test_nothing_open_means_no_snapshot(live_server, go2rtc, camera_device, classroom):
    classroom.session.delete()
    go2rtc.play("gate", b"never fetched")
    camera = remote(live_server, go2rtc, issue_token(device=camera_device).secret)
    assert camera.poll_once().sent is Sent.IDLE
    assert go2rtc.requests == []


def test_a_revoked_token_stops_the_client(live_server, go2rtc, camera_device, classroom):
    issued = issue_token(device=camera_device)
    DeviceToken.objects.update(revoked_at=issued.token.created_at)
    step = remote(live_server, go2rtc, issued.secret).poll_once()
    assert step.sent is Sent.REVOKED and "issue a new one" in step.error


def test_a_server_that_cannot_be_reached_backs_off(go2rtc, camera_device):
    camera = RemoteCamera(
        server=f"http://127.0.0.1:{free_port()}", token="atx_x", go2rtc_url=go2rtc.url, stream="gate", interval=1
    )
    delays = []
    for _ in range(3):
        assert camera.poll_once().sent is Sent.ERROR
        delays.append(camera.delay)
    assert delays == [2, 4, 8]


def test_garbage_from_the_camera_is_refused_by_the_server_and_counted(live_server, go2rtc, camera_device, classroom):
    go2rtc.play("gate", b"<html>not a picture</html>")
    step = remote(live_server, go2rtc, issue_token(device=camera_device).secret).poll_once()
    assert step.sent is Sent.ERROR and "HTTP 400" in step.error
    assert not Record.objects.exists()


def test_the_command_marks_then_stops_on_sigterm(live_server, go2rtc, classroom, shared_photos, camera_device):
    go2rtc.play("gate", *variants.burst(shared_photos["barack_obama/02.jpg"].data))
    env = {**os.environ, "ATTENDX_DEVICE_TOKEN": issue_token(device=camera_device).secret, "LOG_LEVEL": "INFO"}
    args = ["--server", live_server.url, "--go2rtc", go2rtc.url, "--stream", "gate", "--interval", "0.5"]
    with running_command("camera_client", *args, env=env) as client:
        wait_for(Record.objects.exists, timeout=60, what="a mark")
        assert Record.objects.get().person == classroom.people["barack_obama"]
        _, logs = stopped_at_once(client)
    assert client.returncode == 0, logs
    assert "camera gate marked" in logs and "camera gate stopped" in logs and "Traceback" not in logs


def test_the_command_wants_a_token_and_never_takes_it_as_an_argument(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "ATTENDX_DEVICE_TOKEN"}
    args = [sys.executable, "manage.py", "camera_client", "--server", "http://x", "--stream", "s", "--once"]
    missing = subprocess.run(args, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False)
    assert missing.returncode != 0 and "ATTENDX_DEVICE_TOKEN or --token-file" in missing.stderr
    assert (
        "--token "
        not in subprocess.run([*args[:3], "--help"], cwd=settings.BASE_DIR, capture_output=True, text=True).stdout
    )
