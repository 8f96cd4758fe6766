"""/healthz and /readyz answer without a login and tell the truth."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_readyz_all_green(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {
            "database": "ok",
            "redis": "ok",
            "face_weights": "ok",
            "face_descriptor": "onnxruntime",
            "face_gallery": "ok",
        },
    }


def test_readyz_without_redis_is_still_ready(client, redis_refused):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"].startswith("unavailable")


def test_readyz_names_missing_face_weights(client, settings, tmp_path):
    settings.DEEPFACE_HOME = tmp_path
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert "dlib_face_recognition_resnet_model_v1.dat" in body["checks"]["face_weights"]


def test_readyz_names_samples_a_pipeline_change_left_behind(client, member, settings):
    from tests.factories import FaceSampleFactory

    FaceSampleFactory(person=member, pipeline_version="1-Dlib-dlib-d1024-m1280-s0.4")
    answer = client.get("/readyz")
    assert answer.status_code == 200  # still ready: everyone else is recognised
    assert answer.json()["checks"]["face_gallery"].startswith("1 sample(s) from another pipeline")
