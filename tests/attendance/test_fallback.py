"""Check-in without a face: a PIN with the person's login, or a QR card read from a real camera frame;
lockout, rate limits and garbage through the API, on a real database and a real Redis."""

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
import segno
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.devices import issue_token, register_device
from attendance import fallback
from attendance.models import CheckInCredential, Group, Record
from tests.attendance.conftest import make_session
from tests.conftest import run_together
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PIN_API = "/api/v1/check-ins/pin"
QR_API = "/api/v1/check-ins/qr"


@pytest.fixture
def room(db):
    """Ada, with a PIN, in a class whose session runs now."""
    person = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    group = Group.objects.create(name="Class 3C")
    group.members.set([person])
    fallback.set_pin(person=person, pin="4821", by=None)
    return SimpleNamespace(person=person, group=group, session=make_session(group))


def pin(client, login="ada", code="4821", **extra):
    return client.post(PIN_API, {"login": login, "pin": code, **extra}, content_type="application/json")


def qr_frame(code: str, *, size=640) -> bytes:
    """A camera frame with the printed card in it: the QR on a grey background, as a JPEG."""
    png = io.BytesIO()
    segno.make(code, error="m").save(png, kind="png", scale=6, border=4)
    card = Image.open(io.BytesIO(png.getvalue())).convert("RGB")
    frame = Image.new("RGB", (size, size * 3 // 4), (128, 128, 120))
    frame.paste(card, ((frame.width - card.width) // 2, (frame.height - card.height) // 2))
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=90)
    return out.getvalue()


def show_card(client, frame: bytes):
    return client.post(QR_API, {"image": SimpleUploadedFile("frame.jpg", frame, content_type="image/jpeg")})


def test_the_right_pin_checks_in_with_method_pin(kiosk_client, kiosk, room):
    response = pin(kiosk_client)
    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "checked_in" and body["person"] == {"id": str(room.person.pk), "name": "Ada Lovelace"}
    assert "checked in at" in body["message"]
    record = Record.objects.get()
    assert record.method == "pin" and record.device == kiosk and record.session == room.session
    assert body["record"]["id"] == str(record.pk) and body["record"]["method"] == "pin"


def test_the_id_works_as_the_login_and_a_form_post_too(kiosk_client, room):
    response = kiosk_client.post(PIN_API, {"login": str(room.person.pk), "pin": "4821"})
    assert response.status_code == 201


def test_twice_is_already_checked_in(kiosk_client, room):
    assert pin(kiosk_client).status_code == 201
    again = pin(kiosk_client)
    assert again.status_code == 200 and again.json()["result"] == "already_checked_in"
    assert "already checked in" in again.json()["message"]
    assert Record.objects.count() == 1


def test_wrong_pin_unknown_login_and_no_pin_get_one_answer(kiosk_client, room):
    UserFactory(username="bob")  # a person without a PIN
    answers = [pin(kiosk_client, code="0000"), pin(kiosk_client, login="nobody"), pin(kiosk_client, login="bob")]
    assert {(a.status_code, a.json()["error"], a.json()["detail"]) for a in answers} == {
        (400, "not_recognised", "Not recognised.")
    }
    assert CheckInCredential.objects.get(person=room.person).failures == 1
    assert not Record.objects.exists()


def test_after_n_wrong_pins_even_the_right_one_waits(kiosk_client, room, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_MAX_FAILURES": 3, "FALLBACK_LOCK_MINUTES": 2}
    assert [pin(kiosk_client, code="1111").status_code for _ in range(3)] == [400, 400, 400]
    locked = pin(kiosk_client)
    assert locked.status_code == 429 and locked.json()["error"] == "locked"
    assert 100 < int(locked["Retry-After"]) <= 120
    assert locked.json()["detail"] == "Too many wrong PINs. Try again in 2 minutes."
    assert not Record.objects.exists()


def test_a_lock_expires_and_grows_with_each_further_failure(kiosk_client, room, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_MAX_FAILURES": 2, "FALLBACK_LOCK_MINUTES": 1}
    for _ in range(2):
        pin(kiosk_client, code="1111")
    credential = CheckInCredential.objects.get(person=room.person)
    first = credential.locked_until - timezone.now()
    assert timedelta(seconds=50) < first <= timedelta(minutes=1)
    # An hour later (the lock moved into the past): a wrong PIN locks again, for twice as long.
    CheckInCredential.objects.filter(pk=credential.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert pin(kiosk_client, code="1111").status_code == 400
    credential.refresh_from_db()
    assert timedelta(seconds=110) < credential.locked_until - timezone.now() <= timedelta(minutes=2)
    CheckInCredential.objects.filter(pk=credential.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert pin(kiosk_client).status_code == 201
    credential.refresh_from_db()
    assert credential.failures == 0 and credential.locked_until is None


def test_the_lock_is_judged_at_the_moment_of_the_check_in(kiosk, room, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_MAX_FAILURES": 1, "FALLBACK_LOCK_MINUTES": 5}
    with pytest.raises(fallback.NotRecognised):
        fallback.check_in_by_pin(device=kiosk, login="ada", pin="9999")
    with pytest.raises(fallback.CredentialLocked) as locked:
        fallback.check_in_by_pin(device=kiosk, login="ada", pin="4821", moment=timezone.now() + timedelta(minutes=4))
    assert 0 < locked.value.retry_after <= 60
    later = timezone.now() + timedelta(minutes=6)
    assert fallback.check_in_by_pin(device=kiosk, login="ada", pin="4821", moment=later).created


def test_a_new_pin_replaces_the_old_and_clears_the_lock(kiosk_client, room, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_MAX_FAILURES": 1}
    pin(kiosk_client, code="1111")
    assert pin(kiosk_client).status_code == 429
    fallback.set_pin(person=room.person, pin="73915", by=None)
    assert pin(kiosk_client, code="73915").status_code == 201
    assert pin(kiosk_client).status_code == 400


@pytest.mark.parametrize("bad", ["123", "123456789", "12a4", "", "١٢٣٤", 1234, None])
def test_a_pin_must_be_4_to_8_digits(room, bad):
    with pytest.raises(fallback.InvalidPin):
        fallback.set_pin(person=room.person, pin=bad, by=None)


def test_a_qr_card_in_a_camera_frame_checks_in_with_method_qr(kiosk_client, room):
    code = fallback.issue_qr(person=room.person, by=None)
    assert code.startswith(f"attendx:qr:{room.person.pk}:")
    assert code.rpartition(":")[2] not in CheckInCredential.objects.get(person=room.person).qr_digest
    response = show_card(kiosk_client, qr_frame(code))
    assert response.status_code == 201, response.json()
    assert response.json()["result"] == "checked_in" and Record.objects.get().method == "qr"
    assert show_card(kiosk_client, qr_frame(code)).json()["result"] == "already_checked_in"


def test_a_scanner_sends_the_code_as_text(kiosk_client, room):
    code = fallback.issue_qr(person=room.person, by=None)
    response = kiosk_client.post(QR_API, {"code": code})
    assert response.status_code == 201 and Record.objects.get().method == "qr"


def test_a_reissued_card_refuses_the_old_code(kiosk_client, room):
    old = fallback.issue_qr(person=room.person, by=None)
    new = fallback.issue_qr(person=room.person, by=None)
    refused = show_card(kiosk_client, qr_frame(old))
    assert refused.status_code == 400 and refused.json()["detail"] == "Not recognised."
    assert kiosk_client.post(QR_API, {"code": new}).status_code == 201


def test_a_frame_without_a_card_says_so(kiosk_client, room):
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 200, 200)).save(blank, format="PNG")
    response = kiosk_client.post(QR_API, {"image": SimpleUploadedFile("frame.png", blank.getvalue())})
    assert response.status_code == 400 and response.json()["error"] == "no_qr_code"


def test_fallback_check_ins_are_rate_limited_per_device(kiosk_client, room, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_RATE": "3/m"}
    answers = [pin(kiosk_client, code="0000"), kiosk_client.post(QR_API, {"code": "x"}), pin(kiosk_client)]
    assert [a.status_code for a in answers] == [400, 400, 201]
    limited = pin(kiosk_client)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    other = Client()
    other.force_login(UserFactory(role="kiosk"))
    assert pin(other).status_code == 200  # another device has its own count


def test_without_redis_the_rate_is_counted_in_this_process(kiosk_client, room, settings, redis_refused):
    from attendx.ratelimit import local_counter

    local_counter.forget()
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_RATE": "2/m"}
    assert [pin(kiosk_client).status_code for _ in range(3)] == [201, 200, 429]


def test_a_device_token_checks_in_only_to_its_sessions(room):
    other_group = Group.objects.create(name="Class 5A")
    other_group.members.set([room.person])
    elsewhere = make_session(other_group, title="Art")
    device = register_device(name="Front door", groups=[room.group])
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(device=device).secret}")
    refused = pin(bearer, session=str(elsewhere.pk))
    assert refused.status_code == 403 and refused.json()["error"] == "session_not_served"
    assert not Record.objects.exists()
    response = pin(bearer)
    assert response.status_code == 201
    record = Record.objects.get()
    assert record.session == room.session and record.device == device.account and record.method == "pin"


def test_a_person_on_no_open_session_list_is_not_expected(kiosk_client, room):
    UserFactory(username="eve")
    fallback.set_pin(person=UserFactory(username="outsider"), pin="5555", by=None)
    response = pin(kiosk_client, login="outsider", code="5555")
    assert response.status_code == 409 and response.json()["error"] == "not_expected"


def test_no_session_running_is_409(kiosk_client, room):
    room.session.delete()
    response = pin(kiosk_client)
    assert response.status_code == 409 and response.json()["error"] == "no_session"


def test_only_devices_and_staff_may_check_in(client, member, staff, room):
    assert pin(client).status_code in (401, 403)
    client.force_login(member)
    assert pin(client).status_code == 403
    client.force_login(staff)
    assert pin(client).status_code == 201


GARBAGE_PIN = [
    {},
    {"login": "ada"},
    {"pin": "4821"},
    {"login": "a" * 10_000, "pin": "4821"},
    {"login": "ada", "pin": "4" * 10_000},
    {"login": "ådå\u0000", "pin": "4821"},
    {"login": "ada", "pin": "４８２１"},
    {"login": "ada", "pin": "48\u000021"},
    {"login": "🙂", "pin": "🙂🙂🙂🙂"},
    {"login": ["ada"], "pin": ["4821"]},
    {"login": {"x": 1}, "pin": 4821},
    {"login": "ada", "pin": "4821", "session": "abc"},
    {"login": "ada", "pin": "4821", "session": "99999999999999999999"},
    {"login": "ada", "pin": "4821", "session": "1" * 5000},
    {"login": "ada", "pin": "4821", "session": "123456"},
]


@pytest.mark.parametrize("payload", GARBAGE_PIN)
def test_garbage_to_the_pin_api_is_400(kiosk_client, room, payload):
    response = kiosk_client.post(PIN_API, payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Record.objects.exists()


def test_a_body_that_is_not_json_is_400(kiosk_client, room):
    response = kiosk_client.post(PIN_API, b"\xff\xfe{not json", content_type="application/json")
    assert response.status_code == 400


GARBAGE_QR = [
    {},
    {"code": ""},
    {"code": "x" * 10_000},
    {"code": "attendx:qr:"},
    {"code": "attendx:qr:abc:def"},
    {"code": "attendx:qr:1:" + "A" * 30 + "\u0000"},
    {"code": "attendx:qr:99999999999999999999:" + "A" * 32},
    {"code": "attendx:qr:1:" + "🙂" * 20},
    {"image": SimpleUploadedFile("f.jpg", b"just text")},
    {"image": SimpleUploadedFile("f.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")},
    {"image": SimpleUploadedFile("f.jpg", b"")},
    {"image": "not a file"},
    {"code": "attendx:qr:1:" + "A" * 32, "image": SimpleUploadedFile("f.jpg", b"x")},
]


@pytest.mark.parametrize("payload", GARBAGE_QR)
def test_garbage_to_the_qr_api_is_400(kiosk_client, room, payload):
    fallback.issue_qr(person=room.person, by=None)
    response = kiosk_client.post(QR_API, payload)
    assert response.status_code == 400, response.content
    assert not Record.objects.exists()


def test_a_qr_code_naming_someone_else_does_not_count_against_them(kiosk_client, room):
    fallback.issue_qr(person=room.person, by=None)
    for _ in range(8):
        kiosk_client.post(QR_API, {"code": f"attendx:qr:{room.person.pk}:{'B' * 32}"})
    assert CheckInCredential.objects.get(person=room.person).failures == 0
    assert pin(kiosk_client).status_code == 201


def test_two_requests_with_the_right_pin_at_once_make_one_record(room, user_factory):
    devices = [user_factory(role="kiosk"), user_factory(role="kiosk")]
    results = run_together(*[lambda d=d: fallback.check_in_by_pin(device=d, login="ada", pin="4821") for d in devices])
    assert sorted(result.created for result in results) == [False, True], results
    assert Record.objects.count() == 1


def test_concurrent_wrong_pins_each_count(room, kiosk, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "FALLBACK_MAX_FAILURES": 50}

    def guess():
        with pytest.raises(fallback.NotRecognised):
            fallback.check_in_by_pin(device=kiosk, login="ada", pin="0000")

    run_together(guess, guess, guess, guess)
    assert CheckInCredential.objects.get(person=room.person).failures == 4


# Staff pages.


def test_staff_set_a_pin_and_print_a_card_shown_once(client, staff, kiosk_client, room):
    page = f"/attendance/people/{room.person.pk}/check-in/"
    client.force_login(staff)
    assert "Check-in PIN and QR card" in client.get(f"/attendance/people/{room.person.pk}/").content.decode()
    assert client.post(page, {"action": "pin", "pin": "12"}).status_code == 400
    assert client.post(page, {"action": "pin", "pin": "246810"}).status_code == 302
    assert pin(kiosk_client, code="246810").status_code == 201
    card = client.post(page, {"action": "qr"})
    assert card.status_code == 200 and "<svg" in card.content.decode()
    assert card["Cache-Control"].startswith("max-age=0") or "no-cache" in card["Cache-Control"]
    digest = CheckInCredential.objects.get(person=room.person).qr_digest
    again = client.get(page).content.decode()
    assert "issued" in again and "<svg" not in again and digest not in again


def test_members_cannot_manage_credentials(client, member, room):
    client.force_login(member)
    page = f"/attendance/people/{room.person.pk}/check-in/"
    assert client.get(page).status_code == 403
    assert client.post(page, {"action": "qr"}).status_code == 403
    assert not CheckInCredential.objects.get(person=room.person).qr_digest


def test_every_card_is_read_not_just_most(room):
    from faces.uploads import decode_upload

    codes = [fallback.issue_qr(person=room.person, by=None) for _ in range(40)]
    assert [fallback.read_qr_code(image=decode_upload(qr_frame(code), frame=True)) for code in codes] == codes
