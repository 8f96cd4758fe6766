"""Liveness at check-in: what a device's mode does with the judge's verdicts.

Real photos through the real engine and landmark model. A still photo is never live (the judge is
tested on attack and genuine sequences in tests/faces/test_liveness.py); the paths a live head takes
are driven here by a judge that answers as it would for one.
"""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from attendance.models import Evidence, NotLiveAttempt, Record
from attendance.outcomes import Result
from attendance.services import check_in_by_face
from faces import liveness
from faces.liveness import CHALLENGES, Verdict
from faces.uploads import decode_upload
from tests.faces import variants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.liveness]

API = "/api/check-ins"


def burst(photo: bytes, moments: int = 2):
    """Frames of a still photo: other bytes each time, the same picture."""
    frames, data = [], photo
    for _ in range(moments):
        data = variants.next_frame(data)
        frames.append(decode_upload(data))
    return frames


@pytest.fixture
def amy(shared_photos):
    return shared_photos["amy_adams/01.jpg"].data


@pytest.fixture
def verdicts(monkeypatch):
    """Make the judge answer from a script (a head that turns when asked); records what it was asked."""
    script, asked = [], []

    def judge(tracks, *, challenge=None, thresholds=None):
        asked.append((len(tracks), challenge))
        return script.pop(0) if script else Verdict(None, "no_motion")

    monkeypatch.setattr(liveness, "judge", judge)
    return script, asked


def test_a_still_photo_is_asked_a_challenge_and_not_marked(kiosk, classroom, amy):
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.CHALLENGE and face.liveness.challenge in CHALLENGES
    assert face.message == CHALLENGES[face.liveness.challenge]
    assert face.person == classroom.people["amy_adams"]
    assert not Record.objects.exists()


def test_the_api_answers_a_challenge_with_its_prompt(kiosk_client, classroom, amy):
    files = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(amy))]
    response = kiosk_client.post(API, {"image": files})
    assert response.status_code == 200
    [face] = response.json()["faces"]
    assert face["result"] == "challenge" and face["liveness"]["status"] == "challenge"
    assert face["message"] == CHALLENGES[face["liveness"]["challenge"]]


def test_a_challenge_not_done_in_time_is_recorded_and_asked_again(kiosk, classroom, amy, settings, _media_root):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "LIVENESS_CHALLENGE_SECONDS": 3}
    start = timezone.now()
    first = check_in_by_face(frames=burst(amy), device=kiosk, moment=start).faces[0]
    assert first.result is Result.CHALLENGE
    still = check_in_by_face(frames=burst(amy), device=kiosk, moment=start + timedelta(seconds=1)).faces[0]
    assert still.result is Result.CHALLENGE and still.liveness.challenge == first.liveness.challenge
    late = check_in_by_face(frames=burst(amy), device=kiosk, moment=start + timedelta(seconds=4)).faces[0]
    assert late.result is Result.NOT_LIVE and late.message == "Hold still and look at the camera"
    assert late.to_json()["person"] is None  # never named, never accused
    attempt = NotLiveAttempt.objects.get()
    assert attempt.device == kiosk and attempt.candidate == classroom.people["amy_adams"]
    assert f"{first.liveness.challenge} not done" in attempt.reason
    assert variants.as_image(attempt.face.read()).format == "JPEG"
    again = check_in_by_face(frames=burst(amy), device=kiosk, moment=start + timedelta(seconds=5)).faces[0]
    assert again.result is Result.CHALLENGE  # a new challenge
    assert not Record.objects.exists()


def test_a_live_head_in_passive_mode_is_marked_with_the_verdict_in_its_evidence(kiosk, classroom, amy, verdicts):
    script, asked = verdicts
    script.append(Verdict(True, "parallax"))
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.CHECKED_IN
    assert asked == [(2, None)]  # both frames' landmarks, passive
    assert Evidence.objects.get().liveness == "live: parallax"


def test_a_challenge_done_marks(kiosk, classroom, amy, verdicts):
    script, asked = verdicts
    script += [Verdict(None, "no_motion"), Verdict(True, "challenge_done")]
    start = timezone.now()
    first = check_in_by_face(frames=burst(amy), device=kiosk, moment=start).faces[0]
    assert first.result is Result.CHALLENGE
    done = check_in_by_face(frames=burst(amy, 3), device=kiosk, moment=start + timedelta(seconds=1)).faces[0]
    assert done.result is Result.CHECKED_IN
    # The challenge is judged on the frames after it was given: this request's three.
    assert asked == [(2, None), (3, first.liveness.challenge)]
    assert Evidence.objects.get().liveness == f"live: {first.liveness.challenge} done"


def test_a_flat_picture_in_passive_mode_is_recorded_and_challenged(kiosk, classroom, amy, verdicts):
    script, _ = verdicts
    script.append(Verdict(False, "flat"))
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.CHALLENGE
    assert NotLiveAttempt.objects.get().reason == "flat"
    assert not Record.objects.exists()


def test_attempts_are_recorded_a_few_per_device_per_hour(kiosk, classroom, amy, verdicts, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "NOT_LIVE_RECORDS_PER_HOUR": 2}
    script, _ = verdicts
    for n in range(4):
        script.append(Verdict(False, "flat"))
        check_in_by_face(frames=burst(amy), device=kiosk, moment=timezone.now() + timedelta(seconds=20 * n))
        liveness_state_cleared()
    assert NotLiveAttempt.objects.count() == 2


def liveness_state_cleared():
    from attendance import presence
    from attendx.cache import cache_clear

    presence.forget_local()
    cache_clear("challenge:*")


def test_challenge_mode_always_asks_first(kiosk, classroom, amy, verdicts):
    kiosk.liveness = "challenge"
    kiosk.save()
    script, asked = verdicts
    script.append(Verdict(True, "parallax"))  # would be live, but this device always asks
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.CHALLENGE and asked == []


def test_a_device_with_liveness_off_marks_on_agreement_alone(kiosk, classroom, amy):
    kiosk.liveness = "off"
    kiosk.save()
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.CHECKED_IN
    assert Evidence.objects.get().liveness == "not checked: liveness off"


def test_someone_already_checked_in_is_not_challenged(kiosk, staff, classroom, amy):
    from attendance.services import mark_manually

    mark_manually(session=classroom.session, person=classroom.people["amy_adams"], status="present", by=staff)
    [face] = check_in_by_face(frames=burst(amy), device=kiosk).faces
    assert face.result is Result.ALREADY and face.liveness is None


def test_with_redis_down_a_challenge_is_kept_by_the_process(kiosk, classroom, amy, verdicts, redis_refused):
    script, asked = verdicts
    script += [Verdict(None, "no_motion"), Verdict(True, "challenge_done")]
    start = timezone.now()
    first = check_in_by_face(frames=burst(amy), device=kiosk, moment=start).faces[0]
    done = check_in_by_face(frames=burst(amy), device=kiosk, moment=start + timedelta(seconds=1)).faces[0]
    assert first.result is Result.CHALLENGE and done.result is Result.CHECKED_IN
    assert asked[-1] == (2, first.liveness.challenge)


def test_the_landmark_model_missing_is_503_for_a_passive_kiosk(kiosk_client, classroom, amy, monkeypatch, tmp_path):
    import faces.landmarks

    # Only the landmark model is missing: the engine's weights are where they were.
    monkeypatch.setattr(faces.landmarks, "landmark_model", lambda home: tmp_path / "face_landmark.tflite")
    files = [SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(variants.burst(amy))]
    response = kiosk_client.post(API, {"image": files})
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["error"] == "recognition_unavailable"
    assert not Record.objects.exists()


def test_staff_see_attempts_beside_the_review_queue(client, staff, member, kiosk, classroom, amy, verdicts):
    script, _ = verdicts
    script.append(Verdict(False, "flat"))
    check_in_by_face(frames=burst(amy), device=kiosk)
    attempt = NotLiveAttempt.objects.get()
    client.force_login(staff)
    page = client.get(reverse("attendance:reviews")).content.decode()
    assert "Not judged live" in page and reverse("attendance:not-live-face", args=[attempt.pk]) in page
    assert "looked like Amy Adams" in page
    face = client.get(reverse("attendance:not-live-face", args=[attempt.pk]))
    assert face.status_code == 200 and b"".join(face.streaming_content) == attempt.face.read()
    client.force_login(member)
    assert client.get(reverse("attendance:not-live-face", args=[attempt.pk])).status_code == 403


def test_attempts_are_purged_with_the_evidence(kiosk, classroom, amy, verdicts, _media_root):
    from django.core.management import call_command

    script, _ = verdicts
    script.append(Verdict(False, "flat"))
    check_in_by_face(frames=burst(amy), device=kiosk)
    path = _media_root / NotLiveAttempt.objects.get().face.name
    NotLiveAttempt.objects.update(seen_at=timezone.now() - timedelta(days=31))
    call_command("purge")
    assert not NotLiveAttempt.objects.exists() and not path.exists()
