"""Encryption at rest: a copied database or media folder holds no usable face, recognition and staff pages
work as before, keys rotate, a wrong key is a clear 503, old plain data still reads, and photos can be
left out altogether. Real photos, real Redis, a real database file."""

import io
import os
import stat

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from accounts.models import AuditAction, AuditEvent
from faces import crypto
from faces.crypto import FaceDataUnreadable
from faces.enrollment import Photo, face_enroll
from faces.identification import face_identify
from faces.matching import Decision
from faces.models import FaceSample
from faces.pipeline import current_pipeline
from faces.reembedding import reembed_samples
from faces.selectors import bump_gallery_generation, enrolled_gallery
from faces.storage import private_face_storage
from faces.uploads import decode_upload
from tests.attendance.conftest import classroom, enrolled_people  # noqa: F401 - shared fixtures
from tests.conftest import run_together
from tests.factories import FaceSampleFactory, tiny_jpeg

pytestmark = pytest.mark.django_db(transaction=True)

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
ON_MONGODB = connection.vendor == "mongodb"


def enroll(person, photo):
    [sample] = face_enroll(person=person, photos=[Photo(data=photo.data, filename="photo.jpg")])
    return sample


def on_disk(field_file) -> bytes:
    with open(field_file.path, "rb") as handle:
        return handle.read()


def chunks(data: bytes, size: int = 256) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data) - size + 1, size)]


# A copied database or media folder


@pytest.mark.skipif(ON_MONGODB, reason="reads the SQLite file; on MongoDB the stored document is checked below")
def test_the_database_file_holds_no_usable_template(member, embedding_cache):
    sample = enroll(member, embedding_cache["angelina_jolie/01.jpg"])
    raw = FaceSample.objects.get(pk=sample.pk).vector.astype("<f4").tobytes()
    assert len(raw) == 4 * sample.dimensions and np.allclose(np.frombuffer(raw, "<f4"), sample.vector)
    token = bytes(FaceSample.objects.values_list("embedding", flat=True).get(pk=sample.pk))
    connection.close()
    name = connection.settings_dict["NAME"]
    stored = b"".join(open(path, "rb").read() for path in (name, f"{name}-wal") if os.path.exists(path))  # noqa: SIM115
    assert token in stored  # the right file: the token is there
    assert raw not in stored and raw[:64] not in stored


@pytest.mark.skipif(not ON_MONGODB, reason="MongoDB's stored document; SQLite's file is checked above")
def test_the_stored_document_holds_no_usable_template(member, embedding_cache):
    sample = enroll(member, embedding_cache["angelina_jolie/01.jpg"])
    raw = sample.vector.astype("<f4").tobytes()
    document = connection.database[FaceSample._meta.db_table].find_one({"_id": sample.pk})
    assert bytes(document["embedding"]).startswith(crypto.TOKEN_PREFIX)
    assert raw[:64] not in bytes(document["embedding"])


def test_the_photo_on_disk_is_encrypted_and_staff_see_it_decrypted(client, staff, member, embedding_cache):
    upload = embedding_cache["angelina_jolie/01.jpg"].data
    sample = enroll(member, embedding_cache["angelina_jolie/01.jpg"])
    with sample.image.open("rb") as handle:
        kept = handle.read()
    stored = on_disk(sample.image)
    assert kept.startswith(b"\xff\xd8\xff") and stored.startswith(crypto.TOKEN_PREFIX)
    assert b"\xff\xd8\xff" not in stored
    assert not any(run in stored for run in chunks(kept) + chunks(upload))
    assert stat.S_IMODE(os.stat(sample.image.path).st_mode) == 0o600
    client.force_login(staff)
    response = client.get(reverse("faces:sample-image", args=[sample.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    served = b"".join(response.streaming_content)
    assert served == kept and Image.open(io.BytesIO(served)).size[0] > 0


def test_a_face_file_reopens_and_reports_its_plain_size(member):
    sample = FaceSampleFactory(person=member)
    first = sample.image.open("rb").read()
    sample.image.close()
    assert sample.image.open("rb").read() == first == tiny_jpeg()
    assert sample.image.storage.size(sample.image.name) == len(first) < len(on_disk(sample.image))


def test_recognition_works_on_encrypted_templates(classroom, shared_photos):  # noqa: F811
    [found] = face_identify(image=decode_upload(shared_photos["angelina_jolie/05.jpg"].data))
    assert found.person == classroom.people["angelina_jolie"] and found.decision is Decision.ACCEPT
    assert all(crypto.is_encrypted(bytes(token)) for token in FaceSample.objects.values_list("embedding", flat=True))


# Keys


def test_rotation_moves_everything_to_the_first_key(member, capsys):
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_A]):
        sample = FaceSampleFactory(person=member)
        sample.set_vector(np.array([0.6, 0.8], dtype="<f4"))
        sample.save()
        private_face_storage().save("evidence/crop.jpg", ContentFile(b"evidence bytes"))
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        call_command("rotate_face_keys", "--batch-size", "1")
        assert "re-encrypted 1, 0 already current" in capsys.readouterr().out
        call_command("rotate_face_keys")
        out = capsys.readouterr().out
        assert "Embeddings: re-encrypted 0, 1 already current" in out
        assert "Face files: re-encrypted 0, 2 already current" in out
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_B]):
        sample.refresh_from_db()
        assert np.allclose(sample.vector, [0.6, 0.8])
        assert sample.image.open("rb").read() == tiny_jpeg()
        assert private_face_storage().open("evidence/crop.jpg").read() == b"evidence bytes"
    event = AuditEvent.objects.filter(action=AuditAction.KEYS_ROTATED).first()
    assert event.actor is None and event.detail == {"embeddings": 0, "files": 0}


def test_a_dry_run_counts_and_changes_nothing(member, capsys):
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_A]):
        sample = FaceSampleFactory(person=member)
    token = bytes(FaceSample.objects.values_list("embedding", flat=True).get(pk=sample.pk))
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        call_command("rotate_face_keys", "--dry-run")
    assert "Embeddings: would re-encrypt 1" in capsys.readouterr().out
    assert bytes(FaceSample.objects.values_list("embedding", flat=True).get(pk=sample.pk)) == token
    assert not AuditEvent.objects.filter(action=AuditAction.KEYS_ROTATED).exists()


def test_a_wrong_key_is_a_clear_error_and_pages_answer_503(client, staff, kiosk, classroom, shared_photos):  # noqa: F811
    sample = classroom.people["angelina_jolie"].face_samples.first()
    with override_settings(FACES_ENCRYPTION_KEYS=[KEY_C]):
        with pytest.raises(FaceDataUnreadable, match="FACES_ENCRYPTION_KEYS"):
            sample.vector  # noqa: B018 - the read is the test
        bump_gallery_generation()
        with pytest.raises(FaceDataUnreadable):
            enrolled_gallery(pipeline=current_pipeline())
        with pytest.raises(CommandError, match="cannot be decrypted"):
            call_command("rotate_face_keys")
        client.force_login(staff)
        photo = client.get(reverse("faces:sample-image", args=[sample.pk]))
        assert photo.status_code == 503 and b"FACES_ENCRYPTION_KEYS" in photo.content
        client.force_login(kiosk)
        frame = SimpleUploadedFile("frame.jpg", shared_photos["angelina_jolie/05.jpg"].data, "image/jpeg")
        assert client.post("/api/check-ins", {"image": [frame]}).status_code == 503


def test_the_key_file_is_made_once_for_its_owner_alone(tmp_path):
    key_file = tmp_path / "keys" / "faces.key"
    with override_settings(FACES_ENCRYPTION_KEYS=[], FACES_ENCRYPTION_KEY_FILE=key_file):
        keys = run_together(*[crypto.configured_keys] * 4)
        assert all(found == keys[0] for found in keys) and keys[0] == [key_file.read_bytes()]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert os.listdir(key_file.parent) == ["faces.key"]
        token = crypto.encrypt(b"template")
    with override_settings(FACES_ENCRYPTION_KEYS=[], FACES_ENCRYPTION_KEY_FILE=key_file):
        assert crypto.decrypt(token) == b"template"


def test_production_without_keys_fails_its_checks(capsys):
    with override_settings(FACES_ENCRYPTION_KEYS=[], FACES_ENCRYPTION_KEY_FILE=None):
        with pytest.raises(ImproperlyConfigured, match="generate_face_key"):
            crypto.encrypt(b"template")
        assert "faces.E009" in {error.id for error in run_checks()}
    with override_settings(FACES_ENCRYPTION_KEYS=["not a key"]):
        assert "faces.E010" in {error.id for error in run_checks()}
    with override_settings(FACES_ENCRYPTION_KEYS=f"{KEY_A}, {KEY_B}"):
        assert crypto.configured_keys() == [KEY_A.encode(), KEY_B.encode()]
        assert not {error.id for error in run_checks()} & {"faces.E009", "faces.E010"}
    call_command("generate_face_key")
    Fernet(capsys.readouterr().out.strip())


# Data from before encryption


def test_plain_rows_and_files_still_read_and_rotation_encrypts_them(member, capsys):
    plain = np.array([0.6, 0.8], dtype="<f4").tobytes()
    sample = FaceSampleFactory(person=member, embedding=plain)
    with open(sample.image.path, "wb") as handle:
        handle.write(tiny_jpeg())
    assert np.allclose(FaceSample.objects.get(pk=sample.pk).vector, [0.6, 0.8])
    assert sample.image.open("rb").read() == tiny_jpeg()
    call_command("rotate_face_keys")
    assert "Embeddings: re-encrypted 1, 0 already current" in capsys.readouterr().out
    sample.refresh_from_db()
    assert crypto.is_encrypted(bytes(sample.embedding)) and np.allclose(sample.vector, [0.6, 0.8])
    assert on_disk(sample.image).startswith(crypto.TOKEN_PREFIX)
    assert sample.image.open("rb").read() == tiny_jpeg()


# No photos kept


def test_without_photos_only_the_template_is_kept(client, staff, member, embedding_cache, settings, _media_root):
    settings.FACES_KEEP_PHOTOS = False
    sample = enroll(member, embedding_cache["angelina_jolie/01.jpg"])
    assert not sample.image and not [path for path in _media_root.rglob("*") if path.is_file()]
    [found] = face_identify(image=decode_upload(embedding_cache["angelina_jolie/03.jpg"].data))
    assert found.person == member
    client.force_login(staff)
    assert client.get(reverse("faces:sample-image", args=[sample.pk])).status_code == 404
    page = client.get(reverse("faces:enroll-person", args=[member.pk])).content.decode()
    assert "No photo kept, only the template" in page and reverse("faces:sample-image", args=[sample.pk]) not in page
    problems = []
    assert reembed_samples([sample], progress=lambda _, problem: problems.append(problem)) == (0, 1)
    assert problems == ["cannot read the stored photo (no photo kept, only the template)"]
