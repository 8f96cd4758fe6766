"""Intended 503s are logged once per cause as a warning, never as ERROR django.request per request; the
Redis outage message tells how long the outage lasted as this process saw it."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from attendx import cache, unavailable
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_causes():
    unavailable._since.clear()
    yield
    unavailable._since.clear()


def request_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]


def warnings_from(caplog, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == logging.WARNING]


def test_not_ready_is_one_warning_not_an_error_per_probe(client, settings, tmp_path, caplog):
    settings.DEEPFACE_HOME = tmp_path
    for _ in range(3):
        assert client.get("/readyz").status_code == 503
    assert not request_errors(caplog)
    [warning] = warnings_from(caplog, "attendx.unavailable")
    assert warning.startswith("Readiness: unavailable (face_weights missing")


def test_rate_limit_store_down_is_one_warning(client, redis_refused, caplog):
    for _ in range(3):
        assert client.get("/test/limited").status_code == 503
    assert not request_errors(caplog)
    assert warnings_from(caplog, "attendx.unavailable") == [
        "The rate-limit store: unavailable (Redis cannot be reached); answering 503 until it is back"
    ]


def test_recognition_unavailable_is_one_warning(client, member, shared_photos, settings, tmp_path, caplog):
    settings.DEEPFACE_HOME = tmp_path / "no-weights"
    client.force_login(member)
    for quality in (80, 85):  # fresh bytes each time: the digest cache cannot answer
        photo = variants.jpeg(variants.fit(shared_photos["amy_adams/01.jpg"].data), quality=quality)
        upload = SimpleUploadedFile("me.jpg", photo, content_type="image/jpeg")
        response = client.post(reverse("faces:enroll-self"), {"photos": [upload], "source": "upload"})
        assert response.status_code == 503
    assert not request_errors(caplog)
    [warning] = warnings_from(caplog, "attendx.unavailable")
    assert warning.startswith("Face recognition: unavailable (Face model weights missing")


def test_an_unintended_503_is_still_an_error(caplog):
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.utils.log import log_response

    request = RequestFactory().get("/somewhere")
    log_response("%s: %s", "Service Unavailable", request.path, response=HttpResponse(status=503), request=request)
    assert len(request_errors(caplog)) == 1


def test_the_redis_outage_is_measured_from_first_to_last_failure(monkeypatch, caplog):
    clock = {"now": 1000.0}
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock["now"])
    state = cache.RedisAvailability("redis://example:6379/0")
    caplog.set_level(logging.INFO, logger="attendx.cache")
    state.record_failure(ConnectionError("refused"))
    clock["now"] += 4
    state.record_failure(ConnectionError("refused"))  # still down 4 s later
    clock["now"] += 300  # the process was idle; Redis came back somewhere in these 300 s
    state.record_success()
    [back] = [r.getMessage() for r in caplog.records if "is back" in r.getMessage()]
    assert "lasted 4.0 to 304.0 s" in back
