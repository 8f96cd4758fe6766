"""The staff calibration page, the dashboard's warning, and look-alikes named at enrollment."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from faces.calibration_runs import face_calibrate
from faces.charts import distance_chart
from faces.models import FaceCalibration
from tests.conftest import FACES_DIR
from tests.faces.enrolled import enroll_shared, known_single_faces, seed_prior_cache
from tests.faces.test_calibration import closest_different_pair

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = reverse("faces:calibration")
HOME = reverse("home")


@pytest.fixture
def calibration_settings(settings, tmp_path, shared_photos):
    settings.FACES = {
        **settings.FACES,
        "THRESHOLDS_PINNED": False,
        "CALIBRATION_PRIOR_DIR": FACES_DIR,
        "CALIBRATION_CACHE_DIR": tmp_path / "calibration",
    }
    seed_prior_cache(shared_photos)
    return settings


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_see_the_chart_the_table_and_the_lookalikes(staff_client, calibration_settings, shared_photos):
    enroll_shared(shared_photos)
    calibration = face_calibrate(target=0.01).stored  # a loose target: the closest pair are look-alikes
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    content = response.content.decode()
    assert "<svg" in content and 'class="threshold-accept"' in content and 'class="threshold-review"' in content
    assert f"accept {calibration.accept_distance:.3f}" in content
    assert 'id="calibration-table"' in content and content.count("<tr>") > len(calibration.table)
    first, second, _ = closest_different_pair(shared_photos)
    assert 'id="calibration-lookalikes"' in content and first.identity in content and second.identity in content
    assert "In force: the calibration of" in content
    assert "rests on" in content and "normal fit" in content


def test_before_any_calibration_the_page_says_how_to_make_one(staff_client, calibration_settings):
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    content = response.content.decode()
    assert "No calibration yet" in content and "calibrate_faces" in content and "<svg" not in content
    assert "built-in defaults" in content


def test_pinned_thresholds_are_named_on_the_page(staff_client, calibration_settings):
    calibration_settings.FACES = {**calibration_settings.FACES, "THRESHOLDS_PINNED": True}
    assert "pinned by the FACES settings" in staff_client.get(PAGE).content.decode()


def test_the_page_is_for_staff_only(client, member, kiosk, calibration_settings):
    response = client.get(PAGE)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    for user in (member, kiosk):
        client.force_login(user)
        assert client.get(PAGE).status_code == 403


def test_the_staff_navigation_links_the_page(client, staff, member, calibration_settings):
    client.force_login(staff)
    assert f'href="{PAGE}"' in client.get(HOME).content.decode()
    client.force_login(member)
    assert f'href="{PAGE}"' not in client.get(reverse("faces:enroll-self")).content.decode()


def test_the_chart_survives_a_histogram_edited_into_nonsense():
    for histogram in ({}, {"bin_width": "x"}, {"bin_width": 0.005, "genuine": ["a"]}, {"bin_width": -1}, []):
        assert "<svg" in distance_chart(histogram, accept=0.05, review=0.07) or "No distances" in distance_chart(
            histogram, accept=0.05, review=0.07
        )
    assert "No distances" in distance_chart({"bin_width": 0.005}, accept="x", review=0.07)


# The dashboard warns staff when the gallery needs (re)calibrating.


def test_the_dashboard_warns_when_faces_were_never_calibrated(staff_client, calibration_settings, shared_photos):
    assert 'id="calibration-due"' not in staff_client.get(HOME).content.decode()  # nobody enrolled yet
    enroll_shared(shared_photos, {"amy_adams"})
    content = staff_client.get(HOME).content.decode()
    assert 'id="calibration-due"' in content and "never calibrated" in content


def test_the_dashboard_warns_when_the_gallery_grew_by_half(staff_client, calibration_settings, shared_photos):
    identities = sorted({photo.identity for photo in known_single_faces(shared_photos)})
    first_half, rest = identities[:8], identities[8:]
    people = enroll_shared(shared_photos, set(first_half))
    face_calibrate()
    assert 'id="calibration-due"' not in staff_client.get(HOME).content.decode()
    enroll_shared(shared_photos, set(rest[:3]), people=people)  # 11 people: not yet half as many again
    assert 'id="calibration-due"' not in staff_client.get(HOME).content.decode()
    enroll_shared(shared_photos, set(rest[3:4]), people=people)  # 12 = 8 x 1.5
    content = staff_client.get(HOME).content.decode()
    assert "has grown from 8 to 12 people" in content
    face_calibrate()
    assert 'id="calibration-due"' not in staff_client.get(HOME).content.decode()
    assert FaceCalibration.objects.count() == 2


def test_members_are_never_warned(client, member, calibration_settings, shared_photos):
    enroll_shared(shared_photos, {"amy_adams"})
    client.force_login(member)
    assert 'id="calibration-due"' not in client.get(HOME).content.decode()


# Enrollment names the look-alikes (to staff; a member only hears that there is one).


def upload(photo):
    return SimpleUploadedFile("photo.jpg", photo.data, content_type="image/jpeg")


def test_staff_learn_whom_a_newly_enrolled_person_looks_like(
    staff_client, calibration_settings, user_factory, shared_photos, embedding_cache
):
    first, second, distance = closest_different_pair(shared_photos)
    enroll_shared(shared_photos, {first.identity})
    newcomer = user_factory()
    url = reverse("faces:enroll-person", args=[newcomer.pk])
    response = staff_client.post(url, {"photos": [upload(second)], "source": "upload"}, follow=True)
    assert response.status_code == 200
    content = response.content.decode()
    assert "1 photo enrolled" in content
    assert f"looks like {first.identity} ({distance:.3f})" in content


def test_members_hear_of_a_lookalike_without_a_name(
    client, calibration_settings, user_factory, shared_photos, embedding_cache
):
    first, second, _ = closest_different_pair(shared_photos)
    enroll_shared(shared_photos, {first.identity})
    member = user_factory(role="member")
    client.force_login(member)
    response = client.post(reverse("faces:enroll-self"), {"photos": [upload(second)], "source": "upload"}, follow=True)
    content = response.content.decode()
    assert "close to another enrolled person" in content and first.identity not in content


def test_no_lookalike_no_message(staff_client, calibration_settings, user_factory, shared_photos, embedding_cache):
    enroll_shared(shared_photos, {"angelina_jolie"})
    url = reverse("faces:enroll-person", args=[user_factory().pk])
    response = staff_client.post(
        url, {"photos": [upload(shared_photos["amy_adams/01.jpg"])], "source": "upload"}, follow=True
    )
    content = response.content.decode()
    assert "1 photo enrolled" in content and "looks like" not in content
