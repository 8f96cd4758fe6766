"""The audit trail: viewing a face photo, a review frame, an evidence or not-live crop and every export
leaves a row (accounts.audit); administrators read the rows in the admin and nobody can change them."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit
from accounts.models import AuditAction, AuditEvent
from attendance.models import Evidence, NotLiveAttempt, PendingCheckIn
from attendance.services import check_in_by_face
from faces.uploads import decode_upload
from tests.faces import variants
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def check_in(photo, kiosk):
    frames = [decode_upload(frame, frame=True) for frame in variants.burst(photo.data)]
    return check_in_by_face(frames=frames, device=kiosk)


def only_event(action) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action)
    return event


def test_viewing_an_enrolled_photo_is_recorded(staff_client, staff, classroom):
    person = classroom.people["angelina_jolie"]
    sample = person.face_samples.first()
    assert staff_client.get(reverse("faces:sample-image", args=[sample.pk])).status_code == 200
    event = only_event(AuditAction.VIEWED_PHOTO)
    assert (event.actor, event.subject, event.detail) == (staff, person, {"sample": str(sample.pk)})


def test_a_photo_that_is_not_shown_is_not_recorded(client, classroom):
    sample = classroom.people["angelina_jolie"].face_samples.first()
    client.force_login(UserFactory(role="member"))
    assert client.get(reverse("faces:sample-image", args=[sample.pk])).status_code == 403
    assert not AuditEvent.objects.exists()


def test_viewing_an_evidence_crop_is_recorded(staff_client, staff, classroom, shared_photos, kiosk):
    check_in(shared_photos["angelina_jolie/05.jpg"], kiosk)
    evidence = Evidence.objects.get()
    assert staff_client.get(reverse("attendance:record-face", args=[evidence.record_id])).status_code == 200
    event = only_event(AuditAction.VIEWED_EVIDENCE)
    assert (event.actor, event.subject) == (staff, classroom.people["angelina_jolie"])
    assert event.detail == {"record": str(evidence.record_id)}


def test_viewing_a_review_frame_and_its_face_is_recorded(staff_client, staff, classroom, shared_photos, kiosk):
    check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    pending = PendingCheckIn.objects.get()
    assert staff_client.get(reverse("attendance:review-frame", args=[pending.pk])).status_code == 200
    assert staff_client.get(reverse("attendance:review-face", args=[pending.pk])).status_code == 200
    events = AuditEvent.objects.filter(action=AuditAction.VIEWED_REVIEW_FRAME)
    assert [(e.actor, e.subject, e.detail) for e in events] == [
        (staff, pending.candidate, {"pending": str(pending.pk)})
    ] * 2


def test_viewing_a_not_live_crop_is_recorded(staff_client, staff, classroom, shared_photos, kiosk):
    person = classroom.people["amy_adams"]
    attempt = NotLiveAttempt(device=kiosk, candidate=person, reason="a photo")
    attempt.face.save("face.jpg", ContentFile(shared_photos["amy_adams/01.jpg"].data), save=False)
    attempt.save()
    assert staff_client.get(reverse("attendance:not-live-face", args=[attempt.pk])).status_code == 200
    event = only_event(AuditAction.VIEWED_EVIDENCE)
    assert (event.actor, event.subject, event.detail) == (staff, person, {"not_live": str(attempt.pk)})


def test_a_review_frame_gone_from_the_disk_is_404_and_not_recorded(staff_client, classroom, kiosk):
    pending = PendingCheckIn(
        session=classroom.session,
        candidate=classroom.people["amy_adams"],
        distance=0.08,
        box=[0, 0, 10, 10],
        device=kiosk,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    pending.frame.save("frame.jpg", ContentFile(b"a frame"), save=False)
    pending.save()
    pending.frame.storage.delete(pending.frame.name)
    assert staff_client.get(reverse("attendance:review-frame", args=[pending.pk])).status_code == 404
    assert not AuditEvent.objects.exists()


def test_each_export_is_recorded(staff_client, staff, classroom):
    today = timezone.localdate()
    session = staff_client.get(reverse("attendance:session-export", args=[classroom.session.pk]))
    query = {"start": today, "end": today, "group": classroom.group.pk}
    by_range = staff_client.get(reverse("attendance:export"), query)
    api = staff_client.get(f"/api/v1/exports/records?from={today}&to={today}", HTTP_ACCEPT="text/csv")
    assert [session.status_code, by_range.status_code, api.status_code] == [200, 200, 200]
    events = AuditEvent.objects.filter(action=AuditAction.EXPORTED).order_by("at")
    assert {event.actor for event in events} == {staff}
    assert [event.detail for event in events] == [
        {"export": "session", "session": str(classroom.session.pk)},
        {"export": "range", "start": str(today), "end": str(today), "group": str(classroom.group.pk)},
        {"export": "api", "start": str(today), "end": str(today), "group": ""},
    ]


def test_a_refused_export_is_not_recorded(staff_client):
    response = staff_client.get(reverse("attendance:export"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert response.status_code == 400
    assert staff_client.get("/api/v1/exports/records?from=2026-02-01&to=2026-01-01").status_code == 400
    assert not AuditEvent.objects.exists()


@pytest.fixture
def trail(staff, member):
    audit(action=AuditAction.ERASED, actor=staff, subject=member, samples=2)
    return audit(action=AuditAction.EXPORTED, actor=staff, export="session")


def test_administrators_read_the_trail_filtered_and_searched(client, trail, staff, member):
    client.force_login(UserFactory(role="admin"))
    url = reverse("admin:accounts_auditevent_changelist")
    page = client.get(url)
    assert page.status_code == 200 and page.content.decode().count(str(staff)) >= 2
    filtered = client.get(url, {"action__exact": AuditAction.ERASED}).content.decode()
    assert "1 audit event" in filtered and 'field-action">Erased biometric data' in filtered
    searched = client.get(url, {"q": member.last_name}).content.decode()
    assert "1 audit event" in searched
    assert client.get(reverse("admin:accounts_auditevent_change", args=[trail.pk])).status_code == 200


def test_nobody_adds_changes_or_deletes_audit_rows(client, trail):
    client.force_login(UserFactory(role="admin"))
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:accounts_auditevent_delete", args=[trail.pk])).status_code == 403
    change = client.post(reverse("admin:accounts_auditevent_change", args=[trail.pk]), {"actor_name": "nobody"})
    assert change.status_code == 403
    trail.refresh_from_db()
    assert trail.actor_name != "nobody" and AuditEvent.objects.count() == 2


def test_staff_do_not_see_the_trail(client, trail, staff):
    client.force_login(staff)
    assert client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403
    assert "Audit events" not in client.get(reverse("admin:index")).content.decode()
