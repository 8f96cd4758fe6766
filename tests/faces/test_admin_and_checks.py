"""The face sample admin, and the system checks that guard the FACES settings."""

import pytest
from django.urls import reverse

from faces.checks import check_face_weights, check_faces_settings
from faces.enrollment import Photo, face_enroll
from faces.models import FaceSample

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_lists_samples_with_thumbnails_and_reembeds(admin_client, member, embedding_cache, settings):
    face_enroll(person=member, photos=[Photo(embedding_cache["angelina_jolie/01.jpg"].data)])
    sample = FaceSample.objects.get()
    page = admin_client.get(reverse("admin:faces_facesample_changelist"))
    assert page.status_code == 200
    assert reverse("faces:sample-image", args=[sample.pk]) in page.content.decode()
    assert admin_client.get(reverse("admin:faces_facesample_change", args=[sample.pk])).status_code == 200
    settings.FACES = {**settings.FACES, "YUFACE_MAX_SIDE": 640}
    response = admin_client.post(
        reverse("admin:faces_facesample_changelist"),
        {"action": "reembed", "_selected_action": [sample.pk]},
        follow=True,
    )
    assert "Re-embedded 1 sample(s); 0 failed." in response.content.decode()
    sample.refresh_from_db()
    assert sample.pipeline_version.startswith("1-Dlib-yuface-y640-640")


def test_the_admin_cannot_add_samples_around_the_quality_gate(admin_client):
    assert admin_client.get(reverse("admin:faces_facesample_add")).status_code == 403


@pytest.mark.parametrize(
    ("change", "check_id"),
    [
        ({"MODEL": "Facenet"}, "faces.E003"),
        ({"DETECTOR": "retinaface"}, "faces.E003"),
        ({"ACCEPT_DISTANCE": 0.2, "REVIEW_DISTANCE": 0.1}, "faces.E004"),
        ({"MARGIN": -1}, "faces.E004"),
        ({"MIN_BRIGHTNESS": 200, "MAX_BRIGHTNESS": 100}, "faces.E005"),
        ({"MAX_UPLOAD_BYTES": 0}, "faces.E006"),
    ],
)
def test_bad_face_settings_fail_the_checks(settings, change, check_id):
    settings.FACES = {**settings.FACES, **change}
    assert check_id in [error.id for error in check_faces_settings()]


def test_the_shipped_face_settings_pass(settings):
    assert check_faces_settings() == []


def test_missing_weights_are_reported_by_the_deploy_check(settings, tmp_path):
    settings.DEEPFACE_HOME = tmp_path
    [warning] = check_face_weights()
    assert warning.id == "faces.W001" and "faces_install_weights" in warning.hint
