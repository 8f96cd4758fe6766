"""Consent to face recognition: every enrollment path refuses a person without consent to the text in
force, consent on screen (the person or a guardian) and on paper (recorded by named staff), a new version
of the text, withdrawal erasing at once, and the admin that never edits a text once agreed to."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.consent import (
    ConsentRefused,
    current_consent,
    has_consent,
    record_consent,
    text_in_force,
    withdraw_consent,
)
from accounts.models import AuditAction, AuditEvent, Consent, ConsentText, User
from attendx.cache import get_redis_client
from faces.enrollment import Photo, PhotosRefused, face_enroll
from faces.exceptions import ConsentRequired
from faces.jobs import run_job
from faces.models import FaceJob, FaceSample
from tests.conftest import FACES_DIR
from tests.faces.test_jobs import archive_of, broker  # noqa: F401 - a shared fixture
from tests.factories import UserFactory, consented

pytestmark = [pytest.mark.without_consent, pytest.mark.django_db(transaction=True)]

AMY = "amy_adams/01.jpg"


@pytest.fixture
def text(db):
    return ConsentText.objects.create(version=1, body="We keep a template of your face to check you in.")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def photos(photo) -> dict:
    """The enroll form's fields for one uploaded photo."""
    return {"source": "upload", "photos": [SimpleUploadedFile("photo.jpg", photo.data, content_type="image/jpeg")]}


def nothing_stored(media_root) -> bool:
    return (
        not FaceSample.objects.exists()
        and not [path for path in Path(media_root).rglob("*") if path.is_file()]
        and not get_redis_client().count_pattern("emb:*")
    )


def refused_page(response, status=403) -> str:
    assert response.status_code == status
    return response.content.decode()


# Enforcement on every enrollment path


def test_the_service_refuses_before_reading_any_photo(member, text):
    with pytest.raises(PhotosRefused) as refused:
        face_enroll(person=member, photos=[Photo(b"not even a photo", "x.jpg")])
    [(_, reason)] = refused.value.refusals
    assert isinstance(reason, ConsentRequired) and refused.value.status == 403
    assert "No consent to face recognition is on record" in reason.message and "version 1" in reason.message


def test_without_any_text_enrollment_is_refused_and_admins_are_sent_to_publish_one(
    client, member, staff, shared_photos, _media_root
):
    client.force_login(member)
    page = client.get(reverse("faces:enroll-self")).content.decode()
    assert "No consent text has been published yet" in page
    response = client.post(reverse("faces:enroll-self"), photos(shared_photos[AMY]))
    assert "an administrator must publish one" in refused_page(response)
    assert nothing_stored(_media_root)
    client.force_login(staff)
    page = client.get(reverse("faces:enroll-person", args=[member.pk])).content.decode()
    assert reverse("admin:accounts_consenttext_add") in page


def test_the_self_enroll_page_refuses_and_links_the_consent_page(member_client, text, shared_photos, _media_root):
    page = member_client.get(reverse("faces:enroll-self")).content.decode()
    assert 'id="consent-missing"' in page and reverse("accounts:consent") in page
    response = member_client.post(reverse("faces:enroll-self"), photos(shared_photos[AMY]))
    assert "No consent to face recognition is on record" in refused_page(response)
    assert nothing_stored(_media_root)


def test_the_staff_enroll_page_refuses_until_a_paper_form_is_recorded(
    staff_client, staff, member, text, embedding_cache, _media_root
):
    url = reverse("faces:enroll-person", args=[member.pk])
    response = staff_client.post(url, photos(embedding_cache[AMY]))
    page = refused_page(response)
    assert "No consent to face recognition is on record" in page and 'id="paper-consent-form"' in page
    assert not FaceSample.objects.exists() and not [path for path in _media_root.rglob("*") if path.is_file()]
    paper = reverse("accounts:consent-paper", args=[member.pk])
    response = staff_client.post(paper, {"given_by": "person", "giver_name": "Amy Adams"})
    assert response.status_code == 302
    consent = current_consent(member)
    assert consent.method == "paper" and consent.recorded_by == staff and consent.giver_name == "Amy Adams"
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN, actor=staff, subject=member).exists()
    assert "recorded by" in staff_client.get(url).content.decode()
    assert staff_client.post(url, photos(embedding_cache[AMY])).status_code == 302
    assert FaceSample.objects.filter(person=member).count() == 1


def test_a_paper_form_without_a_name_or_from_a_member_is_refused(client, staff, member, text):
    client.force_login(staff)
    paper = reverse("accounts:consent-paper", args=[member.pk])
    response = client.post(paper, {"given_by": "guardian", "giver_name": "  "}, follow=True)
    assert "Name of who signed" in response.content.decode() and not Consent.objects.exists()
    client.force_login(member)
    assert client.post(paper, {"given_by": "person", "giver_name": "Me"}).status_code == 403
    assert not Consent.objects.exists()
    with pytest.raises(ConsentRefused, match="Only staff"):
        record_consent(person=member, given_by="person", giver_name="Me", method="paper", recorded_by=member)


@pytest.mark.usefixtures("broker")
def test_the_bulk_job_refuses_people_without_consent(staff_client, staff, text, embedding_cache, settings):
    consented(UserFactory(username="angelina_jolie"), text=text)
    refused = UserFactory(username="barack_obama")
    layout = {"angelina_jolie": ["angelina_jolie/01.jpg"], "barack_obama": ["barack_obama/01.jpg"]}
    assert staff_client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(layout)}).status_code == 302
    job = FaceJob.objects.get()
    assert run_job(str(job.pk)) == "done"  # what the worker runs (faces.tasks)
    job.refresh_from_db()
    outcomes = dict(job.outcomes)
    assert outcomes["angelina_jolie/01.jpg"] == "enrolled"
    assert outcomes["barack_obama/01.jpg"].startswith("refused: No consent to face recognition is on record")
    assert not FaceSample.objects.filter(person=refused).exists()


@pytest.fixture
def folder(tmp_path):
    for identity, name in (("amy_adams", AMY), ("barack_obama", "barack_obama/01.jpg")):
        (tmp_path / identity).mkdir()
        (tmp_path / identity / "01.jpg").symlink_to(FACES_DIR / name)
    return tmp_path


def enroll_faces(*args):
    out = StringIO()
    try:
        call_command("enroll_faces", *args, "--no-progress", stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def test_enroll_faces_refuses_people_without_consent_and_creates_no_account(folder, text, embedding_cache):
    amy = consented(UserFactory(username="amy_adams"), text=text)
    output, error = enroll_faces(str(folder), "--create-missing")
    assert "amy_adams/01.jpg: enrolled" in output
    assert "barack_obama: refused: no consent on record" in output and "--consent-on-file" in output
    assert error == "1 people were refused for lack of consent."
    assert FaceSample.objects.filter(person=amy).count() == 1 and FaceSample.objects.count() == 1
    assert not User.objects.filter(username="barack_obama").exists()


def test_enroll_faces_with_nobody_consenting_enrolls_nothing(folder, text):
    output, error = enroll_faces(str(folder), "--create-missing")
    assert error == "Nothing could be enrolled: 2 people without consent."
    assert not FaceSample.objects.exists() and not User.objects.filter(username="amy_adams").exists()


def test_enroll_faces_without_a_text_says_so(folder):
    assert "No consent text has been published" in enroll_faces(str(folder))[1]


def test_enroll_faces_with_consent_on_file_records_paper_consents_by_the_operator(
    folder, text, staff, member, embedding_cache
):
    assert "needs --operator" in enroll_faces(str(folder), "--consent-on-file")[1]
    assert "no active staff account" in enroll_faces(str(folder), "--consent-on-file", "--operator", member.username)[1]
    assert "goes with --consent-on-file" in enroll_faces(str(folder), "--operator", staff.username)[1]
    assert not Consent.objects.exists() and not FaceSample.objects.exists()
    output, error = enroll_faces(str(folder), "--consent-on-file", "--operator", staff.username, "--create-missing")
    assert error is None and "2 enrolled" in output
    assert f"amy_adams: paper consent on file, recorded by {staff.username}" in output
    for identity in ("amy_adams", "barack_obama"):
        consent = current_consent(User.objects.get(username=identity))
        assert consent.method == "paper" and consent.recorded_by == staff and consent.text == text
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN, actor=staff).count() == 2


# Consent on screen


def agree(client, version, **fields):
    return client.post(reverse("accounts:consent"), {"version": version, "given_by": "person", "agree": "on", **fields})


def test_a_member_reads_the_text_and_agrees_then_enrolls(member_client, member, text, embedding_cache):
    page = member_client.get(reverse("accounts:consent")).content.decode()
    assert text.body in page and 'id="consent-form"' in page
    response = agree(member_client, 1)
    assert response.status_code == 302 and response.url == reverse("faces:enroll-self")
    consent = current_consent(member)
    assert (consent.given_by, consent.method, consent.giver_name) == ("person", "screen", str(member))
    assert consent.recorded_by == member
    response = member_client.post(reverse("faces:enroll-self"), photos(embedding_cache[AMY]))
    assert response.status_code == 302 and FaceSample.objects.filter(person=member).count() == 1


def test_a_guardian_consents_for_a_minor_and_must_give_a_name(member_client, member, text):
    response = agree(member_client, 1, given_by="guardian", giver_name="")
    assert response.status_code == 400 and not has_consent(member)
    assert "guardian" in response.content.decode()
    assert agree(member_client, 1, given_by="guardian", giver_name="Jane Doe").status_code == 302
    consent = current_consent(member)
    assert (consent.given_by, consent.giver_name, consent.method) == ("guardian", "Jane Doe", "screen")
    assert "Jane Doe" in member_client.get(reverse("accounts:consent")).content.decode()


@pytest.mark.parametrize(
    "fields, status",
    [
        ({"version": 1, "given_by": "person"}, 400),  # not ticked
        ({"version": "x", "given_by": "person", "agree": "on"}, 400),
        ({"version": 1, "given_by": "nobody", "agree": "on"}, 400),
        ({"version": 1, "given_by": "person", "agree": "on", "giver_name": "x" * 500}, 400),
        ({"version": 7, "given_by": "person", "agree": "on"}, 409),  # another version than the one in force
    ],
)
def test_bad_agreements_are_refused_and_record_nothing(member_client, text, fields, status):
    assert member_client.post(reverse("accounts:consent"), fields).status_code == status
    assert not Consent.objects.exists() and not AuditEvent.objects.exists()


def test_agreeing_with_no_text_published_is_409(member_client):
    assert agree(member_client, 1).status_code == 409 and not Consent.objects.exists()


def test_kiosks_have_no_consent_page(client, kiosk, text):
    client.force_login(kiosk)
    assert client.get(reverse("accounts:consent")).status_code == 403


def test_a_new_version_needs_a_new_consent_before_new_enrollments(member, text, embedding_cache):
    record_consent(person=member, given_by="person", giver_name="Me", method="screen", recorded_by=member)
    face_enroll(person=member, photos=[Photo(embedding_cache["angelina_jolie/01.jpg"].data)])
    newer = ConsentText.objects.create(version=2, body="We now also keep evidence crops.")
    assert text_in_force() == newer and not has_consent(member)
    with pytest.raises(PhotosRefused) as refused:
        face_enroll(person=member, photos=[Photo(embedding_cache["angelina_jolie/03.jpg"].data)])
    assert "version 2" in refused.value.refusals[0][1].message
    assert FaceSample.objects.filter(person=member).count() == 1  # the older consent's template is kept
    record_consent(person=member, given_by="person", giver_name="Me", method="screen", recorded_by=member)
    face_enroll(person=member, photos=[Photo(embedding_cache["angelina_jolie/03.jpg"].data)])
    assert FaceSample.objects.filter(person=member).count() == 2
    assert Consent.objects.filter(person=member).count() == 2


def test_consenting_twice_to_one_version_is_refused(member, text):
    record_consent(person=member, given_by="person", giver_name="Me", method="screen", recorded_by=member)
    with pytest.raises(ConsentRefused, match="already consented"):
        record_consent(person=member, given_by="person", giver_name="Me", method="screen", recorded_by=member)
    assert Consent.objects.count() == 1


# Withdrawal


@pytest.fixture
def enrolled_member(member, text, embedding_cache):
    consented(member, text=text)
    samples = face_enroll(person=member, photos=[Photo(embedding_cache[AMY].data)])
    return member, [Path(sample.image.path) for sample in samples]


def test_withdrawing_erases_the_face_data_at_once_and_is_audited(member_client, enrolled_member, _media_root):
    member, files = enrolled_member
    assert all(path.exists() for path in files)
    page = member_client.get(reverse("accounts:consent-withdraw")).content.decode()
    assert "erases" in page and 'id="withdraw-form"' in page
    response = member_client.post(reverse("accounts:consent-withdraw"), {})
    assert response.status_code == 400 and FaceSample.objects.filter(person=member).exists()
    response = member_client.post(reverse("accounts:consent-withdraw"), {"confirm": "on"})
    assert response.status_code == 302
    assert not FaceSample.objects.filter(person=member).exists()
    assert not any(path.exists() for path in files)
    consent = Consent.objects.get(person=member)
    assert consent.withdrawn_at is not None and consent.withdrawn_by == member and not has_consent(member)
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_WITHDRAWN, subject=member, actor=member).exists()
    assert AuditEvent.objects.filter(action=AuditAction.ERASED, subject=member).exists()
    with pytest.raises(PhotosRefused):
        face_enroll(person=member, photos=[Photo(b"anything")])
    again = member_client.post(reverse("accounts:consent-withdraw"), {"confirm": "on"})
    assert again.status_code == 409 and "no consent to withdraw" in again.content.decode()


def test_staff_withdraw_for_a_person(staff_client, staff, enrolled_member):
    member, files = enrolled_member
    url = reverse("accounts:consent-withdraw-person", args=[member.pk])
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {"confirm": "on"}).status_code == 302
    assert not FaceSample.objects.filter(person=member).exists() and not any(path.exists() for path in files)
    assert Consent.objects.get(person=member).withdrawn_by == staff


def test_members_cannot_withdraw_for_others(member_client, text):
    other = consented(UserFactory(), text=text)
    url = reverse("accounts:consent-withdraw-person", args=[other.pk])
    assert member_client.post(url, {"confirm": "on"}).status_code == 403 and has_consent(other)


def test_the_service_withdraws_every_version(member, text):
    consented(member, text=text)
    consented(member, text=ConsentText.objects.create(version=2, body="v2"))
    withdrawal = withdraw_consent(person=member, by=None)
    assert withdrawal.consents == 2 and withdrawal.erasure.samples == 0
    assert not Consent.objects.filter(person=member, withdrawn_at__isnull=True).exists()


# The admin


def test_a_text_agreed_to_is_read_only_in_the_admin_and_cannot_be_deleted(client, text, member):
    admin = UserFactory(role="admin")
    client.force_login(admin)
    add = client.get(reverse("admin:accounts_consenttext_add")).content.decode()
    assert 'name="version"' in add and 'value="2"' in add  # the next version, offered
    change = reverse("admin:accounts_consenttext_change", args=[text.pk])
    assert 'name="body"' in client.get(change).content.decode()  # nobody agreed yet: still editable
    consented(member, text=text)
    page = client.get(change).content.decode()
    assert 'name="body"' not in page and text.body in page
    client.post(change, {"version": 1, "title": "x", "body": "changed", "published_at_0": "2026-01-01"})
    text.refresh_from_db()
    assert text.body.startswith("We keep")
    assert client.post(reverse("admin:accounts_consenttext_delete", args=[text.pk]), {"post": "yes"}).status_code == 403
    assert ConsentText.objects.filter(pk=text.pk).exists()
    response = client.post(
        reverse("admin:accounts_consenttext_add"),
        {"version": 2, "title": "Consent", "body": "New words.", "published_at_0": "2026-12-01"}
        | {"published_at_1": "09:00"},
    )
    assert response.status_code == 302 and text_in_force().version == 2 and text_in_force().created_by == admin


def test_consents_are_read_only_in_the_admin(client, text, member):
    consented(member, text=text)
    client.force_login(UserFactory(role="admin"))
    assert client.get(reverse("admin:accounts_consent_changelist")).status_code == 200
    consent = Consent.objects.get()
    assert client.post(reverse("admin:accounts_consent_delete", args=[consent.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:accounts_consent_add")).status_code == 403


def test_the_service_refuses_a_consent_without_a_text_or_a_name(member):
    with pytest.raises(ConsentRefused, match="No consent text has been published"):
        record_consent(person=member, given_by="person", giver_name="Me", method="screen", recorded_by=member)
    ConsentText.objects.create(version=1, body="Words.")
    with pytest.raises(ConsentRefused, match="Give the name"):
        record_consent(person=member, given_by="guardian", giver_name=" ", method="screen", recorded_by=member)
    with pytest.raises(ConsentRefused, match="who consented and how"):
        record_consent(person=member, given_by="person", giver_name="Me", method="telepathy", recorded_by=member)
    assert not Consent.objects.exists() and not AuditEvent.objects.exists()
