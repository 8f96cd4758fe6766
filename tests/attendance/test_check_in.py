"""Check-in by face through the JSON API: real photos, real Redis, a real database file."""

import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from attendance.models import CheckInRequest, PendingCheckIn, Record
from attendance.outcomes import Replayed, api_answer
from attendance.services import check_in_by_face
from faces.uploads import decode_upload
from tests.attendance.conftest import make_session
from tests.conftest import missing_key, other_shape_key, run_together
from tests.faces import variants
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/check-ins"


def check_in(client, data, *, name="frame.jpg", key=None, session=None, burst=True):
    """POST ``data`` as a kiosk does: after a frame a moment before it (``burst``), or alone."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    frames = variants.burst(data) if burst else [data]
    payload = {"image": [SimpleUploadedFile(name, frame, content_type="image/jpeg") for frame in frames]}
    if session is not None:
        payload["session"] = str(session.pk)
    return client.post(API, payload, **headers)


def test_a_different_photo_of_an_enrolled_person_checks_them_in(kiosk_client, kiosk, classroom, shared_photos):
    response = check_in(kiosk_client, shared_photos["angelina_jolie/05.jpg"].data)
    assert response.status_code == 201
    [face] = response.json()["faces"]
    assert face["decision"] == "accept" and face["result"] == "checked_in"
    assert face["person"]["name"] == str(classroom.people["angelina_jolie"])
    assert "checked in at" in face["message"] and "late" not in face["message"]
    record = Record.objects.get()
    assert record.person == classroom.people["angelina_jolie"] and record.session == classroom.session
    assert record.status == "present" and record.method == "face" and record.device == kiosk
    assert 0 < record.distance < 0.07
    assert face["record"]["id"] == str(record.pk)


def test_a_stranger_is_unknown_and_records_nothing(kiosk_client, classroom, shared_photos):
    response = check_in(kiosk_client, shared_photos["steve_carell/01.jpg"].data)
    assert response.status_code == 200
    [face] = response.json()["faces"]
    assert face["decision"] == "reject" and face["result"] == "unknown" and face["person"] is None
    assert response.json()["message"] == "Not recognised."
    assert not Record.objects.exists() and not PendingCheckIn.objects.exists()


def test_the_same_person_twice_gives_one_record(kiosk_client, classroom, shared_photos):
    assert check_in(kiosk_client, shared_photos["barack_obama/02.jpg"].data).status_code == 201
    again = check_in(kiosk_client, shared_photos["barack_obama/03.jpg"].data)
    assert again.status_code == 200
    [face] = again.json()["faces"]
    assert face["result"] == "already_checked_in" and "already checked in at" in face["message"]
    assert Record.objects.count() == 1


def test_a_group_photo_checks_in_each_enrolled_face(kiosk_client, classroom, shared_photos):
    response = check_in(kiosk_client, shared_photos["_group/two_people.jpg"].data)
    assert response.status_code == 201
    assert {face["result"] for face in response.json()["faces"]} == {"checked_in"}
    assert {r.person.username for r in Record.objects.all()} == {"barack_obama", "joe_biden"}


def test_a_group_photo_with_a_stranger(kiosk_client, classroom, shared_photos):
    response = check_in(kiosk_client, shared_photos["_group/couple.jpg"].data)
    results = sorted(face["result"] for face in response.json()["faces"])
    assert results == ["checked_in", "unknown"]
    assert [r.person.username for r in Record.objects.all()] == ["angelina_jolie"]


def test_matching_is_limited_to_the_session_roster(kiosk_client, classroom, shared_photos):
    # Kit Harington is enrolled but not in the class: his face must not match anybody in it.
    response = check_in(kiosk_client, shared_photos["kit_harington/02.jpg"].data)
    assert response.json()["faces"][0]["result"] == "unknown"
    assert not Record.objects.exists()


def test_arrivals_after_the_late_minute_are_late(kiosk_client, classroom, shared_photos):
    classroom.session.delete()
    make_session(classroom.group, started_minutes_ago=25, late_after=10)
    response = check_in(kiosk_client, shared_photos["amy_adams/01.jpg"].data)
    assert response.status_code == 201
    assert ", late" in response.json()["faces"][0]["message"]
    assert Record.objects.get().status == "late"


def test_a_face_in_the_review_band_waits_for_staff(kiosk_client, classroom, shared_photos):
    # deepface_p02/02 is 0.074 from the enrolled 01: above the accept threshold, inside the review band.
    response = check_in(kiosk_client, shared_photos["deepface_p02/02.jpg"].data)
    assert response.status_code == 200
    [face] = response.json()["faces"]
    assert face["decision"] == "review" and face["result"] == "review" and face["person"] is None
    pending = PendingCheckIn.objects.get()
    assert pending.candidate == classroom.people["deepface_p02"] and pending.state == "pending"
    stored = pending.frame.read()
    assert stored != shared_photos["deepface_p02/02.jpg"].data and pending.frame.name.endswith(".jpg")
    assert variants.as_image(stored).format == "JPEG" and variants.as_image(stored).size == (560, 415)
    assert not Record.objects.exists()


def test_a_review_frame_is_stored_without_what_was_hidden_in_the_upload(kiosk_client, staff, classroom, shared_photos):
    frame = variants.as_image(shared_photos["deepface_p02/02.jpg"].data).convert("RGB")
    trapped = variants.booby_trapped_jpeg(frame)
    assert len(variants.injected_bytes_in(trapped)) == 5
    [face] = check_in(kiosk_client, trapped).json()["faces"]
    assert face["result"] == "review"
    stored = PendingCheckIn.objects.get().frame.read()
    assert variants.injected_bytes_in(stored) == []
    assert stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")
    reopened = variants.as_image(stored)
    assert reopened.format == "JPEG" and not reopened.getexif()
    assert reopened.size == frame.size  # upright, as EXIF asked
    reviewer = Client()
    reviewer.force_login(staff)
    response = reviewer.get(reverse("attendance:review-frame", args=[PendingCheckIn.objects.get().pk]))
    assert b"".join(response.streaming_content) == stored
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('inline; filename="') and "/" not in disposition


def test_a_frame_over_the_frame_pixel_limit_is_413_and_leaves_nothing(
    kiosk_client, classroom, shared_photos, _media_root
):
    files_before = sorted(path for path in _media_root.rglob("*") if path.is_file())
    frame = variants.jpeg(variants.as_image(shared_photos["amy_adams/01.jpg"].data).resize((4000, 3000)))
    response = check_in(kiosk_client, frame)
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_many_pixels",
        "detail": "The image is 4000x3000 pixels; photos may have at most 9 megapixels.",
    }
    assert not Record.objects.exists() and not PendingCheckIn.objects.exists()
    assert not CheckInRequest.objects.exists()
    assert sorted(path for path in _media_root.rglob("*") if path.is_file()) == files_before


def test_an_idempotency_key_replays_the_same_answer(kiosk_client, classroom, shared_photos):
    key = str(uuid.uuid4())
    first = check_in(kiosk_client, shared_photos["angelina_jolie/05.jpg"].data, key=key)
    replay = check_in(kiosk_client, shared_photos["angelina_jolie/05.jpg"].data, key=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    # Even a different frame under the same key gets the first answer and creates nothing.
    other = check_in(kiosk_client, shared_photos["barack_obama/02.jpg"].data, key=key)
    assert other.json() == first.json()
    assert Record.objects.count() == 1 and CheckInRequest.objects.count() == 1


def test_two_kiosks_at_the_same_second_make_one_record(classroom, shared_photos, user_factory):
    devices = [user_factory(role="kiosk"), user_factory(role="kiosk")]
    frames = [decode_upload(frame) for frame in variants.burst(shared_photos["joe_biden/02.jpg"].data)]
    results = run_together(*[lambda d=d: check_in_by_face(frames=frames, device=d) for d in devices])
    assert sorted(result.created for result in results) == [False, True], results
    assert Record.objects.count() == 1


def test_concurrent_retries_with_one_key_make_one_record(classroom, shared_photos, kiosk):
    frames = [decode_upload(frame) for frame in variants.burst(shared_photos["joe_biden/02.jpg"].data)]

    def retry():
        return check_in_by_face(frames=frames, device=kiosk, idempotency_key="same-key")

    results = run_together(retry, retry, retry)
    answers = [r.body if isinstance(r, Replayed) else api_answer(r)[1] for r in results]
    assert len({str(answer) for answer in answers}) == 1, results
    assert Record.objects.count() == 1 and CheckInRequest.objects.count() == 1


def test_redis_down_during_a_check_in_still_records_it(kiosk_client, classroom, shared_photos, redis_refused):
    response = check_in(kiosk_client, shared_photos["angelina_jolie/05.jpg"].data)
    assert response.status_code == 201
    assert Record.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"just text", "frame.jpg", 400, "not_an_image"),
        (variants.SVG, "frame.svg", 400, "markup"),
        (variants.bomb_png(), "frame.png", 413, "too_many_pixels"),
    ],
)
def test_bad_images_are_refused(kiosk_client, classroom, data, name, status, code):
    response = check_in(kiosk_client, data, name=name)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert not Record.objects.exists()


def test_a_request_without_an_image_is_400(kiosk_client, classroom):
    response = kiosk_client.post(API, {})
    assert response.status_code == 400 and response.json()["error"] == "no_image"


def test_a_bad_idempotency_key_is_400(kiosk_client, classroom, shared_photos):
    response = check_in(kiosk_client, shared_photos["amy_adams/01.jpg"].data, key="not a key!" * 20)
    assert response.status_code == 400


def test_no_session_running_is_409(kiosk_client, classroom, shared_photos):
    classroom.session.delete()
    response = check_in(kiosk_client, shared_photos["amy_adams/01.jpg"].data)
    assert response.status_code == 409 and response.json()["error"] == "no_session"


def test_an_explicit_session(kiosk_client, classroom, shared_photos):
    later = make_session(classroom.group, started_minutes_ago=-120, title="Physics")
    response = check_in(kiosk_client, shared_photos["amy_adams/01.jpg"].data, session=later)
    assert response.status_code == 201
    assert Record.objects.get().session == later


def test_recognition_unavailable_is_503(kiosk_client, classroom, shared_photos, settings, tmp_path):
    settings.DEEPFACE_HOME = tmp_path
    fresh = variants.jpeg(variants.fit(shared_photos["amy_adams/01.jpg"].data), quality=87)
    response = check_in(kiosk_client, fresh)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not Record.objects.exists()


def test_check_ins_are_rate_limited_per_device(kiosk_client, classroom, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_IN_RATE": "2/m"}
    for _ in range(2):
        check_in(kiosk_client, b"x")
    response = check_in(kiosk_client, b"x")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    other_device = Client()
    other_device.force_login(UserFactory(role="kiosk"))
    assert check_in(other_device, b"x").status_code == 400


def test_only_kiosks_and_staff_may_check_in(client, member, staff, classroom, shared_photos):
    assert check_in(client, b"x").status_code == 302  # anonymous: to sign-in
    client.force_login(member)
    assert check_in(client, b"x").status_code == 403
    client.force_login(staff)
    assert check_in(client, shared_photos["amy_adams/01.jpg"].data).status_code == 201


def test_the_api_is_csrf_protected(kiosk, classroom, shared_photos):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(kiosk)
    assert check_in(strict, shared_photos["amy_adams/01.jpg"].data).status_code == 403
    page = strict.get("/attendance/kiosk/")
    token = page.cookies["csrftoken"].value
    frames = variants.burst(shared_photos["amy_adams/01.jpg"].data)
    response = strict.post(
        API, {"image": [SimpleUploadedFile("f.jpg", frame) for frame in frames]}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


def test_a_check_in_is_fast_enough_for_a_kiosk(kiosk_client, classroom, shared_photos):
    frame = variants.jpeg(variants.fit(shared_photos["angelina_jolie/05.jpg"].data, longest=640), quality=85)
    started = time.monotonic()
    assert check_in(kiosk_client, frame).status_code == 201
    assert time.monotonic() - started < 5  # a sanity bound, not a benchmark (see benchmarks/)


def test_without_redis_check_ins_are_still_limited_per_process(kiosk_client, classroom, settings, redis_refused):
    from attendx.ratelimit import local_counter

    local_counter.forget()
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_IN_RATE": "2/m"}
    assert [check_in(kiosk_client, b"x").status_code for _ in range(3)] == [400, 400, 429]


def test_kiosk_frames_are_not_kept_in_the_embedding_cache(kiosk_client, classroom, shared_photos):
    from attendx.cache import get_redis_client

    before = get_redis_client().count_pattern("emb:*")
    frame = variants.jpeg(variants.fit(shared_photos["amy_adams/01.jpg"].data, longest=640), quality=84)
    assert check_in(kiosk_client, frame).status_code == 201
    assert get_redis_client().count_pattern("emb:*") == before


MALFORMED_SESSIONS = ["abc", "1.5", "-1", "99999999999999999999", "１２", "x" * 10_000, "other-shape"]


@pytest.mark.parametrize("session", MALFORMED_SESSIONS)
def test_a_malformed_session_is_400_bad_session(kiosk_client, lesson, session):
    session = other_shape_key() if session == "other-shape" else session
    response = kiosk_client.post(API, {"image": SimpleUploadedFile("f.jpg", b"x"), "session": session})
    assert response.status_code == 400
    assert response.json() == {"error": "bad_session", "detail": "`session` must be a session's id, or left out."}


def test_a_session_that_does_not_exist_is_404(kiosk_client, lesson):
    response = kiosk_client.post(API, {"image": SimpleUploadedFile("f.jpg", b"x"), "session": missing_key()})
    assert response.status_code == 404 and response.json()["error"] == "no_such_session"


@pytest.mark.parametrize("session", MALFORMED_SESSIONS)
def test_the_kiosk_page_refuses_a_malformed_session_with_400(client, staff, lesson, session):
    client.force_login(staff)  # the page's upload form is for staff
    session = other_shape_key() if session == "other-shape" else session
    response = client.post("/attendance/kiosk/", {"image": SimpleUploadedFile("f.jpg", b"x"), "session": session})
    assert response.status_code == 400
    assert "must be a session&#x27;s id" in response.content.decode()


def test_the_kiosk_page_answers_404_for_a_session_that_does_not_exist(client, staff, lesson):
    client.force_login(staff)
    payload = {"image": SimpleUploadedFile("f.jpg", b"x"), "session": missing_key()}
    response = client.post("/attendance/kiosk/", payload)
    assert response.status_code == 404
    assert "That session does not exist." in response.content.decode()
