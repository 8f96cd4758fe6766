"""Agreement across frames: one frame marks nobody; two frames agreeing on the same person do.

Real photos through the real engine, the real Redis (and none), a real database.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from attendance import agreement
from attendance.models import Evidence, Record
from attendance.outcomes import Result
from attendance.services import check_in_by_face
from faces.uploads import decode_upload
from tests.conftest import missing_key
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/check-ins"


def frames_of(*photos):
    return [decode_upload(photo) for photo in photos]


def post(client, *frames):
    return client.post(API, {"image": [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(frames)]})


def test_one_frame_marks_nobody_and_a_second_agreeing_frame_marks(kiosk_client, classroom, shared_photos):
    first, second = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    response = post(kiosk_client, first)
    assert response.status_code == 200
    [face] = response.json()["faces"]
    assert face["decision"] == "accept" and face["result"] == "agreeing"
    assert face["agreement"] == {"frames": 1, "needed": 2}
    assert face["person"]["name"] == str(classroom.people["angelina_jolie"])
    assert not Record.objects.exists() and not Evidence.objects.exists()

    response = post(kiosk_client, second)
    assert response.status_code == 201
    [face] = response.json()["faces"]
    assert face["result"] == "checked_in" and face["agreement"] == {"frames": 2, "needed": 2}
    assert Record.objects.get().person == classroom.people["angelina_jolie"]


def test_the_same_bytes_twice_are_one_frame(kiosk_client, classroom, shared_photos):
    photo = shared_photos["angelina_jolie/05.jpg"].data
    assert post(kiosk_client, photo).status_code == 200
    assert post(kiosk_client, photo).json()["faces"][0]["agreement"] == {"frames": 1, "needed": 2}
    assert post(kiosk_client, photo, photo).status_code == 200
    assert not Record.objects.exists()


def test_a_different_person_in_the_second_frame_does_not_mark(kiosk, classroom, shared_photos):
    obama, biden = frames_of(shared_photos["barack_obama/02.jpg"].data, shared_photos["joe_biden/02.jpg"].data)
    check_in = check_in_by_face(frames=[obama, biden], device=kiosk)
    assert [face.result for face in check_in.faces] == [Result.AGREEING]
    assert check_in.faces[0].person == classroom.people["joe_biden"]
    assert not Record.objects.exists()
    # Another frame of Obama: two of the last three frames agree on him.
    [again] = frames_of(variants.next_frame(shared_photos["barack_obama/02.jpg"].data))
    check_in = check_in_by_face(frames=[again], device=kiosk)
    assert [face.result for face in check_in.faces] == [Result.CHECKED_IN]
    assert Record.objects.get().person == classroom.people["barack_obama"]


def test_frames_older_than_the_window_do_not_count(kiosk, classroom, shared_photos):
    first, second = frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data))
    moment = timezone.now()
    check_in_by_face(frames=[first], device=kiosk, moment=moment)
    later = check_in_by_face(frames=[second], device=kiosk, moment=moment + timedelta(seconds=5.5))
    assert [face.result for face in later.faces] == [Result.AGREEING]
    assert not Record.objects.exists()


def test_frames_only_agree_within_one_device(kiosk, user_factory, classroom, shared_photos):
    other = user_factory(role="kiosk")
    first, second = frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data))
    assert check_in_by_face(frames=[first], device=kiosk).faces[0].result is Result.AGREEING
    assert check_in_by_face(frames=[second], device=other).faces[0].result is Result.AGREEING
    assert not Record.objects.exists()


def test_already_checked_in_needs_no_agreement(kiosk, classroom, shared_photos):
    check_in_by_face(frames=frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data)), device=kiosk)
    agreement.forget_local()
    from attendx.cache import get_redis_client

    get_redis_client().clear_pattern("agree:*")
    [face] = check_in_by_face(frames=frames_of(shared_photos["amy_adams/01.jpg"].data), device=kiosk).faces
    assert face.result is Result.ALREADY and face.record == Record.objects.get()


def test_the_rule_comes_from_settings(kiosk, classroom, shared_photos, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "AGREE_FRAMES": 3, "AGREE_OF_LAST": 3}
    photo = shared_photos["amy_adams/01.jpg"].data
    frames = frames_of(variants.next_frame(variants.next_frame(photo)), *variants.burst(photo))
    assert check_in_by_face(frames=frames[:2], device=kiosk).faces[0].result is Result.AGREEING
    assert check_in_by_face(frames=frames[2:], device=kiosk).faces[0].result is Result.CHECKED_IN
    settings.ATTENDANCE = {**settings.ATTENDANCE, "AGREE_FRAMES": 4}
    with pytest.raises(ValueError, match="AGREE_FRAMES"):
        agreement.Rule.from_settings()


def test_with_redis_down_a_burst_still_marks(kiosk_client, classroom, shared_photos, redis_refused):
    response = post(kiosk_client, *variants.burst(shared_photos["angelina_jolie/05.jpg"].data))
    assert response.status_code == 201
    assert Record.objects.count() == 1


def test_with_redis_down_frames_of_one_process_still_agree(kiosk_client, classroom, shared_photos, redis_refused):
    first, second = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    assert post(kiosk_client, first).status_code == 200
    assert post(kiosk_client, second).status_code == 201


def test_frames_agree_across_processes_through_redis(kiosk, classroom, shared_photos):
    """Two web workers: the frames one saw are in Redis for the other (its own memory is empty)."""
    first, second = frames_of(*variants.burst(shared_photos["angelina_jolie/05.jpg"].data))
    check_in_by_face(frames=[first], device=kiosk)
    agreement.forget_local()  # the other worker never saw the first frame
    assert check_in_by_face(frames=[second], device=kiosk).faces[0].result is Result.CHECKED_IN


def test_the_agreement_state_expires_in_redis(kiosk, classroom, shared_photos, shared_redis):
    check_in_by_face(frames=frames_of(shared_photos["amy_adams/01.jpg"].data), device=kiosk)
    [key] = shared_redis.keys("*agree:*")
    assert 0 < shared_redis.ttl(key) <= 11  # the frames serve agreement (5 s) and liveness (10 s)
    assert shared_redis.llen(key) == 1


def test_a_burst_has_at_most_six_frames(kiosk_client, classroom, shared_photos):
    photo = shared_photos["amy_adams/01.jpg"].data
    response = post(kiosk_client, *[photo] * 7)
    assert response.status_code == 400 and response.json()["error"] == "too_many_frames"
    assert not Record.objects.exists()


def test_one_bad_frame_in_a_burst_refuses_the_request(kiosk_client, classroom, shared_photos, shared_redis):
    response = post(kiosk_client, shared_photos["amy_adams/01.jpg"].data, b"not an image")
    assert response.status_code == 400 and response.json()["error"] == "not_an_image"
    assert not Record.objects.exists() and not shared_redis.keys("*agree:*")


def test_the_local_frames_are_safe_across_threads():
    """Eight threads push frames of many devices at once; every push returns that device's own list."""
    local, errors = agreement._LocalFrames(), []
    start = threading.Barrier(8)

    def push(worker: int):
        start.wait()
        try:
            for i in range(2000):
                device = f"d{(worker * 7 + i) % 1500}"
                frames = local.push(device, [{"frame": f"{worker}-{i}", "at": 0, "people": {}, "device": device}], 3)
                assert frames[0]["frame"] == f"{worker}-{i}" and len(frames) <= 3
                assert all(entry["device"] == device for entry in frames)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=push, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(local._devices) <= agreement.LOCAL_DEVICES


def test_a_mark_keeps_its_evidence(kiosk, classroom, shared_photos):
    photos = variants.burst(shared_photos["angelina_jolie/05.jpg"].data)
    frames = frames_of(*photos)
    [face] = check_in_by_face(frames=frames, device=kiosk).faces
    evidence = Record.objects.get().evidence
    assert evidence.distance == pytest.approx(face.distance) and 0 < evidence.distance < 0.07
    assert evidence.margin == pytest.approx(face.margin) and evidence.margin > 0
    assert [seen["frame"] for seen in evidence.frames] == [frame.digest for frame in reversed(frames)]
    crop = variants.as_image(evidence.face.read())
    assert crop.format == "JPEG" and max(crop.size) <= 240
    x, y, w, h = face.box
    assert crop.size[0] < frames[-1].size[0]  # the face, not the frame
    assert w <= crop.size[0] * 2 and h <= crop.size[1] * 2


def test_evidence_is_purged_after_its_days_and_the_record_stays(kiosk, classroom, shared_photos, _media_root):
    check_in_by_face(frames=frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data)), device=kiosk)
    evidence = Evidence.objects.get()
    path = _media_root / evidence.face.name
    assert path.is_file()
    call_command("purge")
    assert Evidence.objects.exists()
    Evidence.objects.update(created_at=timezone.now() - timedelta(days=31))
    call_command("purge")
    assert not Evidence.objects.exists() and not path.exists()
    assert Record.objects.count() == 1


def test_the_record_page_shows_the_evidence(client, staff, kiosk, classroom, shared_photos):
    check_in_by_face(frames=frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data)), device=kiosk)
    record = Record.objects.get()
    client.force_login(staff)
    roster = client.get(reverse("attendance:session", args=[classroom.session.pk])).content.decode()
    assert reverse("attendance:record-face", args=[record.pk]) in roster
    page = client.get(reverse("attendance:record", args=[record.pk]))
    content = page.content.decode()
    assert page.status_code == 200 and "2 frames agreed" in content and str(kiosk) in content
    face = client.get(reverse("attendance:record-face", args=[record.pk]))
    assert face.status_code == 200 and face["Content-Type"] == "image/jpeg"
    assert b"".join(face.streaming_content) == record.evidence.face.read()


def test_only_staff_see_evidence(client, member, kiosk, classroom, shared_photos):
    check_in_by_face(frames=frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data)), device=kiosk)
    record = Record.objects.get()
    for user in (member, kiosk):
        client.force_login(user)
        assert client.get(reverse("attendance:record", args=[record.pk])).status_code == 403
        assert client.get(reverse("attendance:record-face", args=[record.pk])).status_code == 403


def test_a_record_without_evidence_and_a_missing_record(client, staff, classroom):
    from attendance.services import mark_manually

    record = mark_manually(session=classroom.session, person=classroom.people["amy_adams"], status="late", by=staff)
    client.force_login(staff)
    page = client.get(reverse("attendance:record", args=[record.pk]))
    assert page.status_code == 200 and "Marked by hand" in page.content.decode()
    assert client.get(reverse("attendance:record-face", args=[record.pk])).status_code == 404
    assert client.get(reverse("attendance:record", args=[missing_key()])).status_code == 404
    assert client.get("/attendance/records/abc/").status_code == 404


def test_time_is_spent_once_per_frame(kiosk, classroom, shared_photos):
    """A sanity bound, not a benchmark (benchmarks/bench_time_to_mark.py measures)."""
    started = time.monotonic()
    check_in_by_face(frames=frames_of(*variants.burst(shared_photos["amy_adams/01.jpg"].data)), device=kiosk)
    assert time.monotonic() - started < 5
