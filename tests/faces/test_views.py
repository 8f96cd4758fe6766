"""Enrollment pages: members enroll themselves, staff enroll anyone; bad input is refused cleanly."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from attendx.cache import get_redis_client
from faces.models import FaceSample
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)

ENROLL = reverse("faces:enroll-self")


def upload(data, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def post_photos(client, url, *files, source="upload"):
    return client.post(url, {"photos": list(files), "source": source})


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def nothing_stored(media_root):
    return (
        not FaceSample.objects.exists()
        and not [p for p in media_root.rglob("*") if p.is_file()]
        and not get_redis_client().count_pattern("emb:*")
    )


def test_the_enroll_page_offers_camera_and_upload(member_client):
    response = member_client.get(ENROLL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="camera-video"' in content and 'type="file"' in content and "multiple" in content


def test_a_member_enrolls_a_photo(member_client, member, shared_photos):
    response = post_photos(member_client, ENROLL, upload(shared_photos["amy_adams/01.jpg"].data))
    assert response.status_code == 302
    assert FaceSample.objects.filter(person=member, source="upload").count() == 1
    page = member_client.get(ENROLL).content.decode()
    assert "1 photo enrolled" in page and "Enrolled photos (1)" in page


def test_a_webcam_capture_is_recorded_as_such(member_client, member, shared_photos):
    response = post_photos(member_client, ENROLL, upload(shared_photos["amy_adams/01.jpg"].data), source="webcam")
    assert response.status_code == 302
    assert FaceSample.objects.get(person=member).source == "webcam"


@pytest.mark.parametrize(
    ("make", "name", "status", "words"),
    [
        (lambda p: variants.TEXT, "list.jpg", 400, "not an image"),
        (lambda p: variants.jpeg(p)[:3000], "cut.jpg", 400, "damaged or incomplete"),
        (lambda p: variants.jpeg(p), "photo.png", 400, "ends in .png but the file is a JPEG"),
        (lambda p: variants.SVG, "face.svg", 400, "SVG and HTML files are not accepted"),
        (lambda p: variants.HTML, "face.html", 400, "SVG and HTML files are not accepted"),
        (lambda p: variants.bomb_png(), "bomb.png", 413, "more pixels than we accept"),
        (lambda p: variants.animated_png(p), "moving.png", 400, "Animated or multi-page images"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(member_client, shared_photos, _media_root, make, name, status, words):
    portrait = variants.fit(shared_photos["amy_adams/01.jpg"].data)
    response = post_photos(member_client, ENROLL, upload(make(portrait), name))
    assert response.status_code == status
    assert words in response.content.decode()
    assert "Nothing was enrolled" in response.content.decode()
    assert nothing_stored(_media_root)


def test_a_file_over_the_limit_is_413(member_client, shared_photos, settings, _media_root):
    settings.FACES = {**settings.FACES, "MAX_UPLOAD_BYTES": 50_000}
    response = post_photos(member_client, ENROLL, upload(shared_photos["amy_adams/01.jpg"].data))
    assert response.status_code == 413
    assert "photos may be at most" in response.content.decode()
    assert nothing_stored(_media_root)


def test_no_photo_is_400(member_client):
    response = member_client.post(ENROLL, {"source": "upload"})
    assert response.status_code == 400
    assert "Choose at least one photo" in response.content.decode()


def test_no_face_and_many_faces_are_explained(member_client, shared_photos, _media_root):
    response = post_photos(
        member_client,
        ENROLL,
        upload(shared_photos["_none/brick.png"].data, "brick.png", "image/png"),
        upload(shared_photos["_group/couple.jpg"].data, "couple.jpg"),
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "brick.png: No face found" in content and "couple.jpg: More than one face found" in content
    assert nothing_stored(_media_root)


def test_enrollment_posts_are_rate_limited(member_client, shared_photos, settings):
    settings.FACES = {**settings.FACES, "ENROLL_RATE": "2/h"}
    for _ in range(2):
        assert post_photos(member_client, ENROLL, upload(b"not a photo")).status_code == 400
    response = post_photos(member_client, ENROLL, upload(shared_photos["amy_adams/01.jpg"].data))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Try again in" in response.content.decode()
    assert not FaceSample.objects.exists()


def test_with_redis_down_the_enroll_pages_open_and_only_posts_wait(client, member, staff, redis_refused):
    client.force_login(staff)
    person_page = reverse("faces:enroll-person", args=[member.pk])
    assert client.get(person_page).status_code == 200
    client.force_login(member)
    assert client.get(ENROLL).status_code == 200
    refused = post_photos(client, ENROLL, upload(b"not a photo"))
    assert refused.status_code == 503 and refused["Retry-After"]


def test_recognition_unavailable_is_503(member_client, shared_photos, settings, tmp_path, _media_root):
    settings.DEEPFACE_HOME = tmp_path / "no-weights"
    fresh = variants.jpeg(variants.fit(shared_photos["amy_adams/01.jpg"].data), quality=88)
    response = post_photos(member_client, ENROLL, upload(fresh))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "Face recognition is unavailable" in response.content.decode()
    assert nothing_stored(_media_root)


def test_staff_enroll_anyone_and_learn_who_a_duplicate_matches(client, staff, member, user_factory, shared_photos):
    client.force_login(staff)
    url = reverse("faces:enroll-person", args=[member.pk])
    assert post_photos(client, url, upload(shared_photos["angelina_jolie/01.jpg"].data)).status_code == 302
    sample = FaceSample.objects.get(person=member)
    assert sample.enrolled_by == staff
    other = user_factory()
    response = post_photos(
        client, reverse("faces:enroll-person", args=[other.pk]), upload(shared_photos["angelina_jolie/02.jpg"].data)
    )
    assert response.status_code == 400
    assert f"matches {member}" in response.content.decode()


def test_members_are_not_told_who_they_look_like(client, member, user_factory, shared_photos):
    from faces.enrollment import Photo, face_enroll

    face_enroll(person=member, photos=[Photo(shared_photos["angelina_jolie/01.jpg"].data)])
    other = user_factory()
    client.force_login(other)
    response = post_photos(client, ENROLL, upload(shared_photos["angelina_jolie/02.jpg"].data))
    assert response.status_code == 400
    content = response.content.decode()
    assert "looks already enrolled" in content and member.username not in content and str(member) not in content


@pytest.mark.parametrize("page", ["enroll-person", "people"])
def test_the_staff_pages_refuse_members_and_send_visitors_to_sign_in(client, member, user_factory, shared_photos, page):
    # As on the attendance staff pages: a signed-in member gets 403, a visitor the app's sign-in.
    args = [user_factory().pk] if page == "enroll-person" else []
    url = reverse(f"faces:{page}", args=args)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    client.force_login(member)
    assert client.get(url).status_code == 403
    if page == "enroll-person":
        assert post_photos(client, url, upload(shared_photos["angelina_jolie/01.jpg"].data)).status_code == 403
        assert not FaceSample.objects.exists()


def test_kiosks_cannot_enroll(client, kiosk):
    client.force_login(kiosk)
    assert client.get(ENROLL).status_code == 403


def test_photos_are_private(client, member, staff, user_factory, shared_photos, settings):
    from faces.enrollment import Photo, face_enroll

    [sample] = face_enroll(person=member, photos=[Photo(shared_photos["angelina_jolie/01.jpg"].data)])
    url = reverse("faces:sample-image", args=[sample.pk])
    assert client.get(url).status_code == 302  # anonymous: to sign-in
    client.force_login(user_factory())
    assert client.get(url).status_code == 403
    client.force_login(member)
    assert client.get(url).status_code == 200
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == sample.image.storage.open(sample.image.name).read()
    assert client.get("/media/" + sample.image.name).status_code == 404
    assert client.get("/faces/samples/abc/image/").status_code == 404


def test_a_member_deletes_their_photo(member_client, member, shared_photos, _media_root):
    from faces.enrollment import Photo, face_enroll

    [sample] = face_enroll(person=member, photos=[Photo(shared_photos["angelina_jolie/01.jpg"].data)])
    response = member_client.post(reverse("faces:sample-delete", args=[sample.pk]))
    assert response.status_code == 302
    assert nothing_stored(_media_root)


def test_staff_see_people_and_their_enrollment(client, staff, member):
    client.force_login(staff)
    response = client.get(reverse("faces:people"), {"q": member.username})
    assert response.status_code == 200
    assert member.username in response.content.decode()
    assert reverse("faces:enroll-person", args=[member.pk]) in response.content.decode()
