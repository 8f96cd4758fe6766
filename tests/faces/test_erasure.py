"""Erasure of a person's biometric data (faces.erasure): rows, files and Redis keys counted before and
after, with Redis up, refused and stalled; the command, the admin action and the API endpoint."""

import io
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.consent import has_consent
from accounts.models import AuditAction, AuditEvent, User
from attendance.models import Evidence, Group, NotLiveAttempt, PendingCheckIn, Record
from attendance.services import check_in_by_face
from attendx import cache as attendx_cache
from faces import erasure
from faces.embedding_cache import remember_faces
from faces.enrollment import Photo, PhotosRefused, face_enroll
from faces.erasure import carry_out_pending_purges, erase_biometrics
from faces.models import FaceSample, PendingCachePurge
from faces.pipeline import current_pipeline
from faces.selectors import enrolled_gallery
from faces.uploads import decode_upload
from tests.attendance.conftest import make_session
from tests.conftest import free_port, missing_key, other_shape_key, redis_at
from tests.faces import variants
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ENROLLED = {
    "angelina_jolie": ["angelina_jolie/01.jpg", "angelina_jolie/03.jpg"],
    "barack_obama": ["barack_obama/01.jpg"],
}


class Scene:
    """Angelina (the one erased) and Barack (who keeps everything), enrolled, checked in, in review."""

    def __init__(self, shared_photos, kiosk):
        self.people = {}
        for identity, photos in ENROLLED.items():
            first, last = identity.split("_")
            person = User.objects.create(username=identity, first_name=first.title(), last_name=last.title())
            face_enroll(person=person, photos=[Photo(shared_photos[name].data) for name in photos])
            self.people[identity] = person
        self.person, self.other = self.people["angelina_jolie"], self.people["barack_obama"]
        group = Group.objects.create(name="Class 7B")
        group.members.set(self.people.values())
        self.session = make_session(group)
        for photo in ("angelina_jolie/05.jpg", "barack_obama/02.jpg"):
            frames = [decode_upload(frame, frame=True) for frame in variants.burst(shared_photos[photo].data)]
            check_in_by_face(frames=frames, device=kiosk)
        assert Evidence.objects.filter(record__person=self.person).exists()
        frame = shared_photos["angelina_jolie/04.jpg"].data
        self.review = self._pending(self.person, None, frame, kiosk)
        self.runner_up = self._pending(self.other, self.person, shared_photos["barack_obama/03.jpg"].data, kiosk)
        self.kept_review = self._pending(self.other, None, shared_photos["barack_obama/03.jpg"].data, kiosk)
        self.not_live = NotLiveAttempt(device=kiosk, candidate=self.person, reason="a photo of a photo")
        self.not_live.face.save("face.jpg", ContentFile(frame), save=False)
        self.not_live.save()

    def _pending(self, candidate, runner_up, data, kiosk):
        pending = PendingCheckIn(
            session=self.session,
            candidate=candidate,
            runner_up=runner_up,
            distance=0.08,
            box=[0, 0, 50, 50],
            device=kiosk,
            expires_at=timezone.now() + timedelta(minutes=10),
        )
        pending.frame.save("frame.jpg", ContentFile(data), save=False)
        pending.save()
        return pending

    def digests(self) -> set[str]:
        found = set(FaceSample.objects.filter(person=self.person).values_list("digest", flat=True))
        for evidence in Evidence.objects.filter(record__person=self.person):
            found |= {seen["frame"] for seen in evidence.frames}
        return found


@pytest.fixture
def scene(embedding_cache, kiosk):
    return Scene(embedding_cache, kiosk)


def media_files(root) -> set[str]:
    return {str(path.relative_to(root)) for path in Path(root).rglob("*") if path.is_file()}


def keys_of(client, digests) -> int:
    return sum(1 for digest in digests for _ in client.scan_iter(match=f"*emb:{digest}:*"))


def person_rows(person) -> dict[str, int]:
    return {
        "samples": FaceSample.objects.filter(person=person).count(),
        "evidence": Evidence.objects.filter(record__person=person).count(),
        "reviews": PendingCheckIn.objects.filter(candidate=person).count()
        + PendingCheckIn.objects.filter(runner_up=person).count(),
        "not_live": NotLiveAttempt.objects.filter(candidate=person).count(),
        "records": Record.objects.filter(person=person).count(),
    }


def biometric_files(scene) -> set[str]:
    names = {sample.image.name for sample in FaceSample.objects.filter(person=scene.person)}
    names |= {evidence.face.name for evidence in Evidence.objects.filter(record__person=scene.person)}
    names |= {scene.review.frame.name, scene.runner_up.frame.name, scene.not_live.face.name}
    return names


def test_erasure_deletes_rows_files_and_redis_keys_and_keeps_records(scene, staff, settings, shared_redis):
    digests, files = scene.digests(), biometric_files(scene)
    other_before, all_files = person_rows(scene.other), media_files(settings.MEDIA_ROOT)
    assert files <= all_files and len(files) == 2 + 1 + 3
    assert person_rows(scene.person) == {"samples": 2, "evidence": 1, "reviews": 2, "not_live": 1, "records": 1}
    keys = keys_of(shared_redis, digests)
    assert keys >= 2
    total_keys = shared_redis.dbsize()

    erased = erase_biometrics(person=scene.person, by=staff, reason="asked by the person")

    assert erased == erasure.Erased(
        samples=2, evidence_crops=1, review_frames=2, not_live_crops=1, files=6, consents_withdrawn=1, cache_keys=keys
    )
    assert person_rows(scene.person) == {"samples": 0, "evidence": 0, "reviews": 0, "not_live": 0, "records": 1}
    other_after = person_rows(scene.other)
    assert other_after == {**other_before, "reviews": other_before["reviews"] - 1}  # the one naming Angelina
    assert PendingCheckIn.objects.filter(pk=scene.kept_review.pk).exists()
    assert media_files(settings.MEDIA_ROOT) == all_files - files
    assert keys_of(shared_redis, digests) == 0
    assert shared_redis.dbsize() < total_keys - keys + 2  # the generations may be made again; nothing else went
    record = Record.objects.get(person=scene.person)
    assert record.status == "present" and record.method == "face"
    assert PendingCachePurge.objects.get().done_at is not None


def test_the_audit_row_says_who_erased_whom_with_counts_and_no_biometric_data(scene, staff):
    digests = scene.digests()
    erase_biometrics(person=scene.person, by=staff, reason="asked by the person")
    event = AuditEvent.objects.get(action=AuditAction.ERASED)
    assert (event.actor, event.subject, event.actor_name, event.subject_name) == (
        staff,
        scene.person,
        str(staff),
        str(scene.person),
    )
    assert (
        event.detail["samples"] == 2 and event.detail["files"] == 6 and event.detail["reason"] == "asked by the person"
    )
    text = json.dumps(event.detail)
    assert not any(digest in text for digest in digests)
    assert len(text) < 400  # counts and ids: room for neither an embedding nor a photo


def test_erasing_twice_finds_nothing_the_second_time_and_is_audited_both_times(scene, staff):
    erase_biometrics(person=scene.person, by=staff, reason="first")
    again = erase_biometrics(person=scene.person, by=staff, reason="second")
    assert again == erasure.Erased()
    assert AuditEvent.objects.filter(action=AuditAction.ERASED, subject=scene.person).count() == 2


def test_the_gallery_drops_the_person_at_once(scene, staff):
    pipeline = current_pipeline()
    assert str(scene.person.pk) in enrolled_gallery(pipeline=pipeline).people
    erase_biometrics(person=scene.person, by=staff, reason="test")
    assert enrolled_gallery(pipeline=pipeline).people == [str(scene.other.pk)]


def test_with_redis_refused_the_erasure_completes_and_the_keys_go_when_it_answers(scene, staff, settings, shared_redis):
    digests, files = scene.digests(), biometric_files(scene)
    pipeline = current_pipeline()
    assert str(scene.person.pk) in enrolled_gallery(pipeline=pipeline).people
    keys = keys_of(shared_redis, digests)
    with redis_at(f"redis://127.0.0.1:{free_port()}/0"):
        started = time.monotonic()
        erased = erase_biometrics(person=scene.person, by=staff, reason="test")
        assert time.monotonic() - started < 3
        assert erased.cache_purge_pending and erased.cache_keys == 0 and erased.samples == 2 and erased.files == 6
        # This process does not serve the erased person, Redis or not.
        assert str(scene.person.pk) not in enrolled_gallery(pipeline=pipeline).people
        assert carry_out_pending_purges() == 0
    purge = PendingCachePurge.objects.get()
    assert purge.done_at is None and purge.attempts >= 1
    assert not files & media_files(settings.MEDIA_ROOT)
    assert person_rows(scene.person)["samples"] == 0
    assert keys_of(shared_redis, digests) == keys  # still in Redis, while it did not answer

    assert carry_out_pending_purges() == 1
    assert keys_of(shared_redis, digests) == 0
    purge.refresh_from_db()
    assert purge.done_at is not None
    assert carry_out_pending_purges() == 0


def test_another_process_that_cached_the_gallery_drops_the_person_once_the_purge_is_carried_out(scene, staff):
    pipeline = current_pipeline()
    assert str(scene.person.pk) in enrolled_gallery(pipeline=pipeline).people  # cached under the Redis token
    with redis_at(f"redis://127.0.0.1:{free_port()}/0"):
        erase_biometrics(person=scene.person, by=staff, reason="test")
    # A process that erased nothing has no bump of its own to replay: only the stored purge tells it.
    attendx_cache._unsent_bumps.clear()
    carry_out_pending_purges()
    assert str(scene.person.pk) not in enrolled_gallery(pipeline=pipeline).people


def test_with_redis_stalled_the_erasure_completes_and_the_keys_go_after_the_stall(
    embedding_cache, kiosk, staff, redis_server, settings
):
    scene = Scene(embedding_cache, kiosk)  # on the private server: its digest keys live there
    client = redis_server.client()
    for name in ("angelina_jolie/01.jpg", "angelina_jolie/03.jpg"):
        remember_faces(embedding_cache[name].digest, embedding_cache[name].faces)
    digests, files = scene.digests(), biometric_files(scene)
    keys = keys_of(client, digests)
    assert keys >= 2
    redis_server.pause(2)
    stalled_at = time.monotonic()
    erased = erase_biometrics(person=scene.person, by=staff, reason="test")
    assert time.monotonic() - stalled_at < 1.5  # one socket timeout, not the whole stall
    assert erased.cache_purge_pending and erased.samples == 2
    assert not files & media_files(settings.MEDIA_ROOT)
    time.sleep(max(0, 2.2 - (time.monotonic() - stalled_at)))
    attendx_cache._availability.clear()  # skip the retry interval
    assert keys_of(client, digests) == keys
    assert carry_out_pending_purges() == 1
    assert keys_of(client, digests) == 0


def test_erase_person_command_prints_the_counts(scene):
    out = io.StringIO()
    call_command("erase_person", "angelina_jolie", "--yes", stdout=out)
    assert "2 face samples, 1 evidence crops, 2 review frames, 1 not-live crops, 6 files" in out.getvalue()
    event = AuditEvent.objects.get(action=AuditAction.ERASED)
    assert event.actor is None and event.subject == scene.person
    assert not FaceSample.objects.filter(person=scene.person).exists()


def test_erase_person_command_asks_on_a_terminal(scene, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Nothing erased"):
        call_command("erase_person", "angelina_jolie")
    assert FaceSample.objects.filter(person=scene.person).count() == 2
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("erase_person", "angelina_jolie", stdout=io.StringIO())
    assert not FaceSample.objects.filter(person=scene.person).exists()


def test_erase_person_command_of_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("erase_person", "nobody", "--yes")


def test_admin_action_confirms_then_erases(scene, client):
    admin = UserFactory(role="admin")
    client.force_login(admin)
    url = reverse("admin:accounts_user_changelist")
    chosen = {"action": "erase_biometric_data", "_selected_action": [scene.person.pk]}
    page = client.post(url, chosen)
    assert page.status_code == 200 and "Yes, erase their biometric data" in page.content.decode()
    assert FaceSample.objects.filter(person=scene.person).count() == 2
    done = client.post(url, {**chosen, "post": "yes"}, follow=True)
    assert "Erased for Angelina Jolie: 2 face samples" in done.content.decode()
    assert not FaceSample.objects.filter(person=scene.person).exists()
    assert AuditEvent.objects.get(action=AuditAction.ERASED).actor == admin


def test_the_admin_action_is_for_administrators_only(scene, client, staff):
    client.force_login(staff)
    url = reverse("admin:accounts_user_changelist")
    client.post(url, {"action": "erase_biometric_data", "_selected_action": [scene.person.pk], "post": "yes"})
    assert FaceSample.objects.filter(person=scene.person).count() == 2


def test_api_erase_staff_gets_the_counts(scene, client, staff):
    client.force_login(staff)
    response = client.post(f"/api/v1/people/{scene.person.pk}/erase")
    assert response.status_code == 200
    assert response.json() == {
        "samples": 2,
        "evidence_crops": 1,
        "review_frames": 2,
        "not_live_crops": 1,
        "files": 6,
        "consents_withdrawn": 1,
        "cache_keys": response.json()["cache_keys"],
        "cache_purge_pending": False,
    }
    assert response.json()["cache_keys"] >= 2
    assert AuditEvent.objects.get(action=AuditAction.ERASED).actor == staff


@pytest.mark.parametrize("role", ["member", "kiosk"])
def test_api_erase_is_refused_to_members_and_devices(scene, client, role):
    client.force_login(UserFactory(role=role))
    assert client.post(f"/api/v1/people/{scene.person.pk}/erase").status_code == 403
    assert FaceSample.objects.filter(person=scene.person).count() == 2


@pytest.mark.parametrize("key", [missing_key, other_shape_key, lambda: "not-an-id"])
def test_api_erase_of_nobody_is_404(client, staff, key):
    client.force_login(staff)
    response = client.post(f"/api/v1/people/{key()}/erase")
    assert response.status_code == 404
    assert not AuditEvent.objects.exists()


def test_an_erased_person_needs_a_new_consent_before_any_enrollment(scene, staff, embedding_cache):
    assert has_consent(scene.person)
    erase_biometrics(person=scene.person, by=staff, reason="asked by the person")
    assert not has_consent(scene.person)
    # What a bulk job queued before the erasure would do next: refused, nothing enrolled again.
    with pytest.raises(PhotosRefused):
        face_enroll(person=scene.person, photos=[Photo(embedding_cache["angelina_jolie/05.jpg"].data)])
    assert not FaceSample.objects.filter(person=scene.person).exists()
