"""Folders of photos name people by username or by external id: the staff page's ZIP and enroll_faces,
which creates accounts only when told to (--create-missing)."""

from io import StringIO

import pytest
import redis
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Role, User
from faces.models import FaceJob, FaceSample
from tests.conftest import FACES_DIR
from tests.faces.test_jobs import archive_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BULK = reverse("faces:bulk-enroll")


@pytest.fixture
def staff_client(client, staff, settings):
    client.force_login(staff)
    yield client
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()  # the queued jobs


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", external_id="P1001")


def test_a_zip_with_folders_named_by_external_id_or_username_queues_each_person_s_photos(staff_client, ada):
    joe = UserFactory(username="joe_biden")
    both = UserFactory(username="P2002", external_id="P2002")  # the same person both ways
    layout = {"P1001": ["amy_adams/01.jpg"], "joe_biden": ["joe_biden/01.jpg"], "P2002": ["barack_obama/01.jpg"]}
    response = staff_client.post(BULK, {"archive": archive_of(layout)})
    assert response.status_code == 302
    job = FaceJob.objects.get()
    owners = {item["name"]: item["person"] for item in job.items}
    assert owners == {"P1001/01.jpg": str(ada.pk), "joe_biden/01.jpg": str(joe.pk), "P2002/01.jpg": str(both.pk)}


def test_a_folder_naming_one_person_by_username_and_another_by_external_id_is_refused(staff_client, ada):
    UserFactory(username="P1001")
    response = staff_client.post(BULK, {"archive": archive_of({"P1001": ["amy_adams/01.jpg"]})})
    assert response.status_code == 400
    assert "name one person by username and another by external id: P1001" in response.content.decode()
    assert not FaceJob.objects.exists()


def test_a_folder_naming_a_device_or_someone_who_left_names_nobody(staff_client, ada):
    UserFactory(role=Role.KIOSK, external_id="K1")
    UserFactory(external_id="P9", is_active=False)
    layout = {"K1": ["amy_adams/01.jpg"], "P9": ["joe_biden/01.jpg"], "P1001": ["angelina_jolie/01.jpg"]}
    response = staff_client.post(BULK, {"archive": archive_of(layout)})
    assert response.status_code == 400
    assert "No account for these folders: K1, P9." in response.content.decode()
    assert not FaceJob.objects.exists()


def enroll_faces(*args) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("enroll_faces", *args, "--no-progress", stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def folder_of(root, layout: dict[str, str]):
    for identity, name in layout.items():
        (root / identity).mkdir()
        (root / identity / "01.jpg").symlink_to(FACES_DIR / name)
    return root


def test_enroll_faces_refuses_a_folder_that_names_no_account_and_creates_none(tmp_path, ada, embedding_cache):
    folder = folder_of(tmp_path, {"P1001": "amy_adams/01.jpg", "Nobody": "joe_biden/01.jpg"})
    accounts = User.objects.count()
    output, error = enroll_faces(str(folder))
    assert error is None
    assert "Nobody: refused: no account has this username or external id (--create-missing" in output
    assert "P1001/01.jpg: enrolled" in output
    assert "1 folder(s) refused, their photos skipped: Nobody." in output
    assert FaceSample.objects.get().person == ada
    assert User.objects.count() == accounts


def test_enroll_faces_exits_non_zero_when_no_folder_names_anyone(tmp_path, staff):
    folder = folder_of(tmp_path, {"Nobody": "joe_biden/01.jpg"})
    output, error = enroll_faces(str(folder))
    assert error == "Nothing could be enrolled: 1 folder(s) refused."
    assert "Nobody: refused: no account" in output
    assert not User.objects.filter(username="Nobody").exists()


def test_enroll_faces_refuses_an_ambiguous_folder_even_with_create_missing(tmp_path, ada):
    UserFactory(username="P1001")
    output, error = enroll_faces(str(folder_of(tmp_path, {"P1001": "amy_adams/01.jpg"})), "--create-missing")
    assert "P1001: refused: it is one person's username and another's external id" in output
    assert error == "Nothing could be enrolled: 1 folder(s) refused."
    assert not FaceSample.objects.exists()


def test_enroll_faces_with_create_missing_creates_a_member_without_a_password(tmp_path, staff, embedding_cache):
    folder = folder_of(tmp_path, {"amy_adams": "amy_adams/01.jpg"})
    output, error = enroll_faces(str(folder), "--create-missing", "--consent-on-file", "--operator", staff.username)
    assert error is None and "amy_adams/01.jpg: enrolled" in output
    amy = User.objects.get(username="amy_adams")
    assert amy.role == Role.MEMBER and amy.first_name == "Amy Adams" and not amy.has_usable_password()
