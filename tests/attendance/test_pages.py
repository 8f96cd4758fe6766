"""Staff and member pages: rosters, marks, reviews, exports, histories, charts, permissions."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from attendance.models import Group, PendingCheckIn, Record, RecordChange
from attendance.services import check_in_by_face, mark_manually
from faces.uploads import decode_upload
from tests.attendance.conftest import make_session
from tests.conftest import missing_key, other_shape_key
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def owned_by(person, group) -> Group:
    """``group`` run by ``person``: staff see only the groups they own (attendance.selectors.visible_groups)."""
    group.owner = person
    group.save(update_fields=["owner"])
    return group


def face_check_in(photo, device, **options):
    """Check in as a kiosk does, with a frame a moment before ``photo``'s."""
    frames = [decode_upload(frame, frame=True) for frame in variants.burst(photo.data)]
    return check_in_by_face(frames=frames, device=device, **options)


def test_the_roster_shows_present_late_absent_and_excused(staff_client, classroom, shared_photos, kiosk, staff):
    face_check_in(shared_photos["angelina_jolie/05.jpg"], kiosk)
    mark_manually(session=classroom.session, person=classroom.people["amy_adams"], status="late", by=staff)
    mark_manually(session=classroom.session, person=classroom.people["joe_biden"], status="excused", by=staff)
    page = staff_client.get(reverse("attendance:session", args=[classroom.session.pk]))
    content = page.content.decode()
    assert page.status_code == 200
    assert content.count("status-present") == 1 and content.count("status-late") == 1
    assert content.count("status-excused") == 1 and content.count("status-expected") == 2
    assert "manual · edited" in content and f"by {staff}" in content


def test_after_the_end_missing_people_are_absent(staff_client, classroom):
    ended = make_session(classroom.group, started_minutes_ago=120, length_minutes=60, title="History")
    content = staff_client.get(reverse("attendance:session", args=[ended.pk])).content.decode()
    assert content.count("status-absent") == 5


def test_manual_mark_and_unmark_are_recorded_with_who(staff_client, staff, classroom):
    url = reverse("attendance:session-mark", args=[classroom.session.pk])
    person = classroom.people["amy_adams"]
    assert staff_client.post(url, {"person": person.pk, "status": "present"}).status_code == 302
    record = Record.objects.get()
    assert record.method == "manual" and record.marked_by == staff
    staff_client.post(url, {"person": person.pk, "status": "unmark"})
    assert not Record.objects.exists()
    assert [(c.action, c.by) for c in RecordChange.objects.order_by("at")] == [("marked", staff), ("unmarked", staff)]


def test_review_approve_creates_the_record(staff_client, staff, classroom, shared_photos, kiosk):
    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    pending = PendingCheckIn.objects.get()
    page = staff_client.get(reverse("attendance:reviews"))
    assert "Deepface P02?" in page.content.decode()
    frame = staff_client.get(reverse("attendance:review-frame", args=[pending.pk]))
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    frame_name = pending.frame.name
    staff_client.post(reverse("attendance:review-approve", args=[pending.pk]))
    record = Record.objects.get()
    assert record.person == classroom.people["deepface_p02"] and record.marked_by == staff
    pending.refresh_from_db()
    assert pending.state == "approved" and pending.reviewed_by == staff
    assert pending.frame.name == "" and not pending.frame.storage.exists(frame_name)


def test_the_review_queue_shows_the_face_beside_the_enrolled_photo_in_plain_words(
    staff_client, classroom, shared_photos, kiosk
):
    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    pending = PendingCheckIn.objects.get()
    sample = classroom.people["deepface_p02"].face_samples.get()
    content = staff_client.get(reverse("attendance:reviews")).content.decode()
    assert reverse("attendance:review-face", args=[pending.pk]) in content
    assert reverse("faces:sample-image", args=[sample.pk]) in content
    assert "Close to Deepface P02, but not certain." in content
    assert "distance" not in content.lower()
    assert 'class="outline" style="left: ' in content
    face = staff_client.get(reverse("attendance:review-face", args=[pending.pk]))
    assert face.status_code == 200 and face["Content-Type"] == "image/jpeg"
    crop, frame = variants.as_image(face.content), variants.as_image(pending.frame.read())
    assert crop.format == "JPEG" and crop.size[0] < frame.size[0] and crop.size[1] < frame.size[1]
    assert (pending.frame_width, pending.frame_height) == frame.size


def test_a_face_already_waiting_for_review_is_not_queued_again(classroom, shared_photos, kiosk):
    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    assert PendingCheckIn.objects.count() == 1


def test_a_review_between_two_people_says_so(staff_client, lesson, member, kiosk, user_factory):
    other = user_factory(first_name="Ann", last_name="Other")
    pending = pending_review(lesson, member, kiosk)
    pending.runner_up, pending.runner_up_distance = other, pending.distance + 0.004
    pending.save()
    content = staff_client.get(reverse("attendance:reviews")).content.decode()
    assert f"Looks like {member} or Ann Other: both came close." in content
    pending.runner_up_distance = 0.5  # far: only the candidate came close
    pending.save()
    assert f"Close to {member}, but not certain." in staff_client.get(reverse("attendance:reviews")).content.decode()


def test_approving_someone_already_checked_in_says_so_and_changes_nothing(
    staff_client, classroom, shared_photos, kiosk
):
    amy = classroom.people["amy_adams"]
    face_check_in(shared_photos["amy_adams/01.jpg"], kiosk)
    before = Record.objects.get()
    pending = pending_review(classroom.session, amy, kiosk)
    page = staff_client.get(reverse("attendance:reviews")).content.decode()
    assert "is already checked in (present at" in page and "approving changes nothing" in page
    response = staff_client.post(reverse("attendance:review-approve", args=[pending.pk]), follow=True)
    assert f"{amy} was already checked in at" in response.content.decode()
    assert "nothing changed" in response.content.decode()
    after = Record.objects.get()
    assert (after.pk, after.status, after.marked_at, after.method, after.marked_by) == (
        before.pk,
        before.status,
        before.marked_at,
        before.method,
        None,
    )
    assert not RecordChange.objects.exists()
    assert PendingCheckIn.objects.get().state == "approved"


def test_review_reject_records_nothing(staff_client, classroom, shared_photos, kiosk):
    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    pending = PendingCheckIn.objects.get()
    staff_client.post(reverse("attendance:review-reject", args=[pending.pk]))
    assert not Record.objects.exists()
    assert PendingCheckIn.objects.get().state == "rejected"
    assert "Nothing waiting" in staff_client.get(reverse("attendance:reviews")).content.decode()


def test_expired_reviews_are_purged_with_their_frames(classroom, shared_photos, kiosk):
    from django.core.management import call_command

    face_check_in(shared_photos["deepface_p02/02.jpg"], kiosk)
    pending = PendingCheckIn.objects.get()
    PendingCheckIn.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "Deleted 1 review frame(s)" in out.getvalue()
    assert not PendingCheckIn.objects.exists()
    assert not pending.frame.storage.exists(pending.frame.name)


def read_csv(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_session_csv_export(staff_client, classroom, shared_photos, kiosk):
    face_check_in(shared_photos["angelina_jolie/05.jpg"], kiosk)
    response = staff_client.get(reverse("attendance:session-export", args=[classroom.session.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 5
    angelina = next(row for row in rows if row["username"] == "angelina_jolie")
    assert angelina["status"] == "present" and angelina["method"] == "face" and angelina["marked_at"]


def test_date_range_csv_export(staff_client, classroom, staff):
    yesterday = make_session(classroom.group, started_minutes_ago=24 * 60, title="Yesterday")
    mark_manually(session=yesterday, person=classroom.people["amy_adams"], status="present", by=staff)
    today = timezone.localdate()
    response = staff_client.get(
        reverse("attendance:export"), {"start": today - timedelta(days=1), "end": today, "group": classroom.group.pk}
    )
    rows = read_csv(response)
    assert {row["session"] for row in rows} == {"Maths", "Yesterday"}
    assert {row["status"] for row in rows if row["session"] == "Yesterday"} == {"present", "absent"}


def test_a_bad_date_range_is_400(staff_client):
    response = staff_client.get(reverse("attendance:export"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert response.status_code == 400
    assert "start date must come before" in response.content.decode()


def test_csv_cells_cannot_become_formulas(staff_client, classroom, staff):
    person = classroom.people["amy_adams"]
    person.first_name = "=HYPERLINK(1)"
    person.save()
    mark_manually(session=classroom.session, person=person, status="present", by=staff)
    rows = read_csv(staff_client.get(reverse("attendance:session-export", args=[classroom.session.pk])))
    assert any(row["name"].startswith("'=HYPERLINK") for row in rows)


def test_a_persons_history_and_rate(staff_client, classroom, staff):
    person = classroom.people["amy_adams"]
    for minutes_ago, status in ((3 * 24 * 60, "present"), (2 * 24 * 60, None), (24 * 60, "late")):
        session = make_session(classroom.group, started_minutes_ago=minutes_ago, title=f"Day {minutes_ago}")
        if status:
            mark_manually(session=session, person=person, status=status, by=staff)
    content = staff_client.get(reverse("attendance:person-history", args=[person.pk])).content.decode()
    assert "67%" in content  # 2 of 3 finished sessions
    assert content.count("status-absent") == 1


def test_members_see_only_their_own_history(client, classroom):
    me = classroom.people["amy_adams"]
    me.set_password("a good long password")
    me.save()
    client.force_login(me)
    assert client.get(reverse("attendance:my-history")).status_code == 200
    assert client.get(reverse("attendance:person-history", args=[classroom.people["joe_biden"].pk])).status_code == 403
    assert client.get(reverse("attendance:session", args=[classroom.session.pk])).status_code == 403
    assert client.get(reverse("attendance:session-export", args=[classroom.session.pk])).status_code == 403
    assert client.get(reverse("attendance:sessions")).status_code == 403


def test_the_daily_rate_chart_is_rendered_on_the_server(staff_client, classroom, staff):
    owned_by(staff, classroom.group)
    session = make_session(classroom.group, started_minutes_ago=2 * 24 * 60, title="Before")
    for name in ("amy_adams", "joe_biden"):
        mark_manually(session=session, person=classroom.people[name], status="present", by=staff)
    content = staff_client.get(reverse("attendance:group", args=[classroom.group.pk])).content.decode()
    assert "<svg" in content and 'class="bar"' in content
    assert "2/5" in content  # two of five members on that day
    assert "cdn" not in content.lower()


def test_the_kiosk_page_offers_no_upload_to_kiosks(client, kiosk, classroom, shared_photos):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(kiosk)
    page = client.get(reverse("attendance:kiosk"))
    assert page.status_code == 200 and 'id="kiosk-video"' in page.content.decode()
    assert 'id="kiosk-upload"' not in page.content.decode()
    photo = SimpleUploadedFile("me.jpg", shared_photos["amy_adams/01.jpg"].data)
    refused = client.post(reverse("attendance:kiosk"), {"image": photo})
    assert refused.status_code == 403 and "camera only" in refused.content.decode()
    assert not Record.objects.exists()


def test_staff_check_someone_in_from_one_photo_flagged_as_an_upload(client, staff, classroom, shared_photos):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(staff)
    assert 'id="kiosk-upload"' in client.get(reverse("attendance:kiosk")).content.decode()
    photo = SimpleUploadedFile("me.jpg", shared_photos["amy_adams/01.jpg"].data)
    response = client.post(reverse("attendance:kiosk"), {"image": photo})
    assert response.status_code == 201
    assert "Amy Adams: checked in at" in response.content.decode()
    record = Record.objects.get()
    assert record.method == "upload" and record.device == staff
    assert record.evidence.liveness == "not checked: a staff member's photo upload"


def test_kiosk_accounts_can_only_check_in(client, kiosk, classroom):
    client.force_login(kiosk)
    for name in ("attendance:sessions", "attendance:my-history", "attendance:reviews", "faces:enroll-self", "home"):
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("attendance:kiosk")).status_code == 200


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def concrete(route: str) -> str:
    import re

    from django.db import connection

    # A key of this database's shape: ObjectIds on MongoDB, integers elsewhere (attendx.converters).
    key = "0" * 24 if connection.vendor == "mongodb" else "1"
    path = re.sub(r"<[^>]+>", key, route.replace("^", "").replace("$", "").replace("\\Z", ""))
    path = re.sub(r"\(\?P<\w+>[^)]*\)", key, path)
    return "/" + path.replace("\\", "")


def test_anonymous_visitors_are_sent_to_sign_in_everywhere_but_health(client):
    # The locked kiosk page pairs without signing in; the API's schema and docs are public (docs/api.md).
    public = {"/healthz", "/readyz", "/favicon.ico", "/accounts/login/", "/admin/login/", "/kiosk/"}
    public |= {"/api/schema/", "/api/docs/", "/api/redoc/"}
    public |= {"/i18n/setlang/"}  # the language chooser, on the sign-in page too (accounts.i18n_urls)
    checked = 0
    for route, _name in walk(get_resolver("attendx.urls").url_patterns):
        path = concrete(route)
        if path in public or path.startswith("/admin/"):
            continue
        response = client.get(path)
        if path.startswith("/api/v1/"):  # the API answers in JSON: 401, or 405 for pairing (POST only)
            assert response.status_code in (401, 405), (path, response.status_code)
            assert response["Content-Type"].startswith("application/json"), path
            checked += 1
            continue
        assert response.status_code in (302, 405), (path, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"], path
        checked += 1
    admin = client.get("/admin/")
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]
    assert checked > 15


def test_an_approved_camera_sighting_keeps_its_method(staff, classroom, shared_photos, kiosk):
    from attendance.models import Method
    from attendance.services import approve_pending

    photo = shared_photos["deepface_p02/02.jpg"]
    face_check_in(photo, kiosk, method=Method.CAMERA)
    record, created = approve_pending(pending=PendingCheckIn.objects.get(), by=staff)
    assert created and record.method == "camera" and record.marked_by == staff


# Bad input answers 400 (wrong shape, with a message) or 404 (a well-formed key that names nothing), never 500.


MALFORMED_KEYS = ["abc", "1.5", "-1", "99999999999999999999", "１２", "1 OR 1=1", "x" * 10_000]


@pytest.mark.parametrize("person", [*MALFORMED_KEYS, "other-shape"])
def test_a_manual_mark_for_a_malformed_person_is_400(staff_client, lesson, person):
    person = other_shape_key() if person == "other-shape" else person
    url = reverse("attendance:session-mark", args=[lesson.pk])
    response = staff_client.post(url, {"person": person, "status": "present"})
    assert response.status_code == 400
    assert "Not a valid id." in response.content.decode()
    assert not Record.objects.exists()


def test_a_manual_mark_for_nobody_is_404(staff_client, lesson):
    url = reverse("attendance:session-mark", args=[lesson.pk])
    response = staff_client.post(url, {"person": missing_key(), "status": "present"})
    assert response.status_code == 404
    assert not Record.objects.exists()


def test_a_manual_mark_with_a_bad_status_is_400(staff_client, lesson, member):
    url = reverse("attendance:session-mark", args=[lesson.pk])
    response = staff_client.post(url, {"person": member.pk, "status": "gone fishing"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize(("start", "end"), [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02")])
def test_an_export_beyond_the_calendar_is_400(staff_client, start, end):
    response = staff_client.get(reverse("attendance:export"), {"start": start, "end": end})
    assert response.status_code == 400
    assert "Choose a day from 2000-01-01 to 2099-12-31." in response.content.decode()


@pytest.mark.parametrize("group", [*MALFORMED_KEYS, "other-shape"])
def test_an_export_of_a_malformed_group_is_400(staff_client, group):
    group = other_shape_key() if group == "other-shape" else group
    query = {"start": "2026-01-01", "end": "2026-01-31", "group": group}
    response = staff_client.get(reverse("attendance:export"), query)
    assert response.status_code == 400
    assert "Not a valid id." in response.content.decode()


def test_an_export_of_a_group_that_does_not_exist_is_404(staff_client):
    query = {"start": "2026-01-01", "end": "2026-01-31", "group": missing_key()}
    response = staff_client.get(reverse("attendance:export"), query)
    assert response.status_code == 404
    assert "That group does not exist." in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "9999-12-31", "end": "9999-12-31"}, "Choose a day from 2000-01-01 to 2099-12-31."),
        ({"end": "9999-12-31"}, "Choose a day from 2000-01-01 to 2099-12-31."),
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "The start date must come before the end date."),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "Choose at most one year at a time."),
    ],
)
def test_a_group_chart_for_bad_days_is_400_with_the_reason(staff_client, staff, lesson, query, message):
    owned_by(staff, lesson.group)
    response = staff_client.get(reverse("attendance:group", args=[lesson.group.pk]), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_group_chart_defaults_to_the_last_30_days(staff_client, staff, lesson):
    owned_by(staff, lesson.group)
    response = staff_client.get(reverse("attendance:group", args=[lesson.group.pk]))
    today = timezone.localdate()
    assert response.status_code == 200
    assert response.context["start"] == today - timedelta(days=29) and response.context["end"] == today
    since = staff_client.get(reverse("attendance:group", args=[lesson.group.pk]), {"end": "2026-03-31"})
    assert since.context["start"].isoformat() == "2026-03-02"


@pytest.mark.parametrize("page", ["abc", "1.5", "0", "-1", "9" * 5000])
def test_a_malformed_page_of_sessions_is_400(staff_client, page):
    response = staff_client.get(reverse("attendance:sessions"), {"page": page})
    assert response.status_code == 400
    assert "Page:" in response.content.decode()


def test_a_page_of_sessions_past_the_end_is_the_last_page(staff_client):
    response = staff_client.get(reverse("attendance:sessions"), {"page": "99999999999999999999"})
    assert response.status_code == 200


def pending_review(session, person, device) -> PendingCheckIn:
    from django.core.files.base import ContentFile

    pending = PendingCheckIn(
        session=session,
        candidate=person,
        distance=0.08,
        box=[0, 0, 10, 10],
        device=device,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    pending.frame.save("frame.jpg", ContentFile(b"a frame"), save=False)
    pending.save()
    return pending


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decided_reviews_frame_is_gone_404(staff_client, lesson, member, kiosk, decision):
    pending = pending_review(lesson, member, kiosk)
    name = pending.frame.name
    assert staff_client.post(reverse(f"attendance:review-{decision}", args=[pending.pk])).status_code == 302
    pending.refresh_from_db()
    assert pending.frame.name == "" and not pending.frame.storage.exists(name)
    assert staff_client.get(reverse("attendance:review-frame", args=[pending.pk])).status_code == 404


def test_a_reviews_frame_missing_from_the_disk_is_404(staff_client, lesson, member, kiosk):
    pending = pending_review(lesson, member, kiosk)
    pending.frame.storage.delete(pending.frame.name)
    assert staff_client.get(reverse("attendance:review-frame", args=[pending.pk])).status_code == 404
    assert staff_client.get(reverse("attendance:review-face", args=[pending.pk])).status_code == 404


def test_a_reviews_frame_that_cannot_be_read_has_no_face_404(staff_client, lesson, member, kiosk):
    pending = pending_review(lesson, member, kiosk)  # its frame is not an image
    assert staff_client.get(reverse("attendance:review-face", args=[pending.pk])).status_code == 404
    assert staff_client.get(reverse("attendance:reviews")).status_code == 200
