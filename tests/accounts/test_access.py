"""Access requests: a member downloads everything held about them as a zip (profile, records, consent
history, audit trail, photos), staff download anyone's, and nobody else's data leaks."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from bson import ObjectId
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import AuditAction, AuditEvent
from attendance.models import Group, Record, Session
from faces.enrollment import Photo, face_enroll
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

JOLIE = ["angelina_jolie/01.jpg", "angelina_jolie/03.jpg"]


@pytest.fixture
def enrolled(member, embedding_cache):
    """The member with two enrolled photos and one attendance record."""
    samples = face_enroll(person=member, photos=[Photo(embedding_cache[name].data) for name in JOLIE])
    group = Group.objects.create(name="Class 7B")
    group.members.add(member)
    start = timezone.now() - timedelta(minutes=5)
    session = Session.objects.create(group=group, title="Maths", starts_at=start, ends_at=start + timedelta(hours=1))
    Record.objects.create(session=session, person=member, status="present", method="face", distance=0.04)
    return member, samples


def download(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "application/zip" and "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('attachment; filename="attendx-data-')
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_a_member_downloads_everything_held_about_them(client, enrolled):
    member, samples = enrolled
    client.force_login(member)
    archive = download(client, reverse("accounts:my-data"))
    person = json.loads(archive.read("person.json"))
    assert person["username"] == member.username and person["id"] == str(member.pk)
    assert person["groups"] == ["Class 7B"]
    [record] = json.loads(archive.read("records.json"))
    assert record["session"]["title"] == "Maths" and record["status"] == "present" and record["method"] == "face"
    assert record["marked_at"]
    [consent] = json.loads(archive.read("consents.json"))
    assert consent["version"] == 1 and consent["method"] == "screen" and consent["withdrawn_at"] is None
    json.loads(archive.read("audit.json"))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["missing_photos"] == [] and len(manifest["photos"]) == 2
    listed = json.loads(archive.read("samples.json"))
    assert {item["id"] for item in listed} == {str(sample.pk) for sample in samples}
    assert not any("embedding" in item for item in listed)
    for sample in samples:
        data = archive.read(f"photos/{sample.pk}.jpg")
        with sample.image.open("rb") as handle:
            assert data == handle.read()  # as the storage gives it back: decrypted, when encrypted at rest
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and image.size[0] > 100
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_REQUEST)
    assert event.actor == member and event.subject == member and event.detail["photos"] == 2


def test_a_missing_photo_file_is_skipped_and_said_so(client, enrolled):
    member, samples = enrolled
    gone = samples[0]
    gone.image.storage.delete(gone.image.name)
    client.force_login(member)
    archive = download(client, reverse("accounts:my-data"))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["missing_photos"] == [str(gone.pk)]
    assert manifest["photos"] == [f"photos/{samples[1].pk}.jpg"]
    assert f"photos/{gone.pk}.jpg" not in archive.namelist()


def test_staff_download_anyones_data_and_members_only_their_own(client, enrolled, staff):
    member, _ = enrolled
    other = UserFactory()
    client.force_login(other)
    assert client.get(reverse("accounts:person-data", args=[member.pk])).status_code == 403
    archive = download(client, reverse("accounts:my-data"))
    assert json.loads(archive.read("person.json"))["username"] == other.username
    assert json.loads(archive.read("records.json")) == [] and not any(
        name.startswith("photos/") for name in archive.namelist()
    )
    client.force_login(staff)
    archive = download(client, reverse("accounts:person-data", args=[member.pk]))
    assert json.loads(archive.read("person.json"))["username"] == member.username
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUEST, actor=staff, subject=member).exists()
    page = client.get(reverse("faces:enroll-person", args=[member.pk])).content.decode()
    assert reverse("accounts:person-data", args=[member.pk]) in page


def test_an_unknown_or_malformed_id_is_404(client, staff):
    client.force_login(staff)
    unknown = str(ObjectId()) if connection.vendor == "mongodb" else "987654321"
    assert client.get(f"/accounts/people/{unknown}/data/").status_code == 404
    assert client.get("/accounts/people/not-an-id/data/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUEST).exists()


def test_kiosks_download_nothing(client, kiosk, member):
    client.force_login(kiosk)
    assert client.get(reverse("accounts:my-data")).status_code == 403
    assert client.get(reverse("accounts:person-data", args=[member.pk])).status_code == 403
    client.force_login(member)
    assert client.post(reverse("accounts:my-data")).status_code == 405


def test_photos_no_key_can_read_answer_503_not_a_500(client, enrolled):
    member, _ = enrolled
    client.force_login(member)
    with override_settings(FACES_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        response = client.get(reverse("accounts:my-data"))
    assert response.status_code == 503 and "Retry-After" in response
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUEST).exists()
