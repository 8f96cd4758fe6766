"""Registered devices and their credentials: the token lifecycle (issued once, hashed, revoked, rotated,
last use), bearer check-ins without CSRF, sessions a device serves, pairing codes and the exit PIN."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.devices import issue_token, pair, register_device, start_pairing
from accounts.models import DeviceKind, DeviceToken, PairingCode, Role, User
from attendance.models import Group, Record
from tests.attendance.conftest import make_session
from tests.faces import variants

pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/v1/devices/me"


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def check_in(client, photo: bytes, *, session=None, **headers):
    payload = {
        "image": [SimpleUploadedFile("f.jpg", frame, content_type="image/jpeg") for frame in variants.burst(photo)]
    }
    if session is not None:
        payload["session"] = str(session.pk)
    return client.post("/api/check-ins", payload, **headers)


@pytest.fixture
def device(db):
    return register_device(name="Front desk", location="Main entrance", exit_pin="4321")


# The token lifecycle.


def test_a_token_is_shown_once_and_only_its_digest_is_stored(device):
    issued = issue_token(device=device)
    assert issued.secret.startswith(f"atx_{issued.token.prefix}_") and len(issued.secret) > 40
    stored = DeviceToken.objects.get()
    assert issued.secret not in {stored.digest, stored.prefix} and len(stored.digest) == 64
    assert device.account.role == Role.KIOSK and not device.account.has_usable_password()


def test_a_bearer_token_signs_in_as_the_device_and_records_its_last_use(device):
    issued = issue_token(device=device)
    response = Client().get(ME, **bearer(issued.secret))
    assert response.status_code == 200
    assert response.json()["name"] == "Front desk" and response.json()["location"] == "Main entrance"
    assert DeviceToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer atx_nope", "Bearer atx_0000_" + "x" * 43, "Bearer " + "a" * 5000, "Token abc"],
)
def test_a_missing_or_wrong_token_gets_401_in_json(device, header):
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().get(ME, **headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json" and response.json()["error"]


def test_a_revoked_token_stops_working_at_once(device):
    issued = issue_token(device=device)
    assert Client().get(ME, **bearer(issued.secret)).status_code == 200
    DeviceToken.objects.update(revoked_at=timezone.now())
    response = Client().get(ME, **bearer(issued.secret))
    assert response.status_code == 401 and response.json()["error"] == "bad_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_rotation_revokes_the_earlier_tokens(device):
    first, second = issue_token(device=device), issue_token(device=device)
    assert Client().get(ME, **bearer(first.secret)).status_code == 200  # two tokens may coexist
    rotated = issue_token(device=device, replace=True)
    assert Client().get(ME, **bearer(first.secret)).status_code == 401
    assert Client().get(ME, **bearer(second.secret)).status_code == 401
    assert Client().get(ME, **bearer(rotated.secret)).status_code == 200


def test_a_deactivated_device_account_is_refused(device):
    issued = issue_token(device=device)
    User.objects.filter(pk=device.account.pk).update(is_active=False)
    assert Client().get(ME, **bearer(issued.secret)).status_code == 401


def test_a_device_token_reaches_only_the_check_in_api(device):
    issued = issue_token(device=device)
    for path in ("/attendance/", "/faces/people/", "/attendance/export/", "/admin/"):
        assert Client().get(path, **bearer(issued.secret)).status_code == 403, path


def test_the_command_prints_a_new_token_once():
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_device_token", "gate-cam", "--create", "--kind", "camera", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("atx_") and "\n" not in secret and "shown once" in err.getvalue()
    token = DeviceToken.objects.get()
    assert token.device.kind == DeviceKind.CAMERA and token.device.name == "gate-cam"
    assert Client().get(ME, **bearer(secret)).status_code == 200

    call_command("issue_device_token", "gate-cam", "--rotate", stdout=(out := io.StringIO()), stderr=io.StringIO())
    assert Client().get(ME, **bearer(secret)).status_code == 401
    assert Client().get(ME, **bearer(out.getvalue().strip())).status_code == 200


def test_the_command_refuses_an_unknown_device():
    with pytest.raises(CommandError, match="No device is called"):
        call_command("issue_device_token", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    assert not DeviceToken.objects.exists()


# Check-ins with a token.


def test_a_token_checks_in_without_csrf_while_a_cookie_still_needs_it(device, classroom, shared_photos, kiosk):
    photo = shared_photos["angelina_jolie/05.jpg"].data
    issued = issue_token(device=device)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(kiosk)
    assert check_in(browser, photo).status_code == 403  # a signed-in cookie without the CSRF token
    assert not Record.objects.exists()

    response = check_in(Client(enforce_csrf_checks=True), photo, **bearer(issued.secret))
    assert response.status_code == 201, response.content
    [face] = response.json()["faces"]
    assert face["result"] == "checked_in"
    assert Record.objects.get().device == device.account


def test_a_wrong_token_never_falls_back_to_the_session_cookie(device, classroom, shared_photos, kiosk):
    browser = Client()
    browser.force_login(kiosk)
    response = check_in(browser, shared_photos["angelina_jolie/05.jpg"].data, **bearer("atx_wrong_token"))
    assert response.status_code == 401 and not Record.objects.exists()


def test_a_token_checks_in_only_to_its_devices_sessions(device, classroom, shared_photos):
    other = make_session(Group.objects.create(name="Choir"), title="Choir")
    device.groups.set([classroom.group])
    issued = issue_token(device=device)
    photo = shared_photos["barack_obama/02.jpg"].data

    refused = check_in(Client(), photo, session=other, **bearer(issued.secret))
    assert refused.status_code == 403 and refused.json()["error"] == "session_not_served"
    assert not Record.objects.exists()
    assert check_in(Client(), photo, **bearer(issued.secret)).status_code == 201
    assert Record.objects.get().session == classroom.session

    device.groups.clear()
    device.sessions.set([other])  # the choir has no members: anyone enrolled may check in to it
    response = check_in(Client(), shared_photos["barack_obama/03.jpg"].data, **bearer(issued.secret))
    assert response.status_code == 201
    assert Record.objects.filter(session=other, person=classroom.people["barack_obama"]).exists()


def test_a_device_serving_nothing_open_gets_409(device, classroom, shared_photos):
    device.sessions.set([make_session(Group.objects.create(name="Later"), started_minutes_ago=-600)])
    response = check_in(
        Client(), shared_photos["barack_obama/02.jpg"].data, **bearer(issue_token(device=device).secret)
    )
    assert response.status_code == 409 and not Record.objects.exists()


# Pairing and the exit PIN.


def test_a_pairing_code_works_once_and_replaces_earlier_tokens(device):
    old = issue_token(device=device)
    code = start_pairing(device=device).code
    assert len(code) == 9 and code[4] == "-"
    response = Client().post("/api/v1/devices/pair", {"code": code.lower().replace("-", " ")})
    assert response.status_code == 201, response.content
    secret = response.json()["token"]
    assert response.json()["device"]["name"] == "Front desk"
    assert Client().get(ME, **bearer(secret)).status_code == 200
    assert Client().get(ME, **bearer(old.secret)).status_code == 401

    again = Client().post("/api/v1/devices/pair", {"code": code})
    assert again.status_code == 400 and again.json()["error"] == "bad_code"
    assert DeviceToken.objects.active().count() == 1


@pytest.mark.parametrize("code", ["", "ABCD", "ZZZZ-ZZZZ", "x" * 40])
def test_a_wrong_pairing_code_is_refused(device, code):
    start_pairing(device=device)
    response = Client().post("/api/v1/devices/pair", {"code": code})
    assert response.status_code == 400 and response.json()["error"] == "bad_code"
    assert not DeviceToken.objects.exists()


def test_an_expired_or_superseded_code_is_refused(device):
    expired = start_pairing(device=device)
    PairingCode.objects.filter(pk=expired.pairing.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().post("/api/v1/devices/pair", {"code": expired.code}).status_code == 400
    first = start_pairing(device=device)
    start_pairing(device=device)
    assert Client().post("/api/v1/devices/pair", {"code": first.code}).status_code == 400


def test_two_browsers_racing_for_one_code_pair_one(device):
    code = start_pairing(device=device).code
    barrier, results = threading.Barrier(4), []

    def attempt():
        barrier.wait()
        try:
            results.append(pair(code=code))
        except Exception as error:  # noqa: BLE001 - PairingRefused is the expected loss
            results.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(result, tuple) for result in results) == 1
    assert DeviceToken.objects.active().count() == 1


def test_pairing_is_rate_limited_per_address(device, settings):
    settings.DEVICES = {**settings.DEVICES, "PAIR_RATE": "3/m"}
    answers = [Client().post("/api/v1/devices/pair", {"code": "ABCD-EFGH"}).status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]


def test_leaving_locked_mode_needs_the_staff_pin(device):
    issued = issue_token(device=device)
    wrong = Client().post(f"{ME}/unlock", {"pin": "0000"}, **bearer(issued.secret))
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_pin"
    assert Client().get(ME, **bearer(issued.secret)).status_code == 200
    right = Client().post(f"{ME}/unlock", {"pin": "4321"}, **bearer(issued.secret))
    assert right.status_code == 200 and right.json() == {"unpaired": True}
    assert Client().get(ME, **bearer(issued.secret)).status_code == 401


def test_guessing_the_pin_is_rate_limited(device, settings):
    settings.DEVICES = {**settings.DEVICES, "UNLOCK_RATE": "2/m"}
    issued = issue_token(device=device)
    answers = [Client().post(f"{ME}/unlock", {"pin": "1111"}, **bearer(issued.secret)).status_code for _ in range(3)]
    assert answers == [403, 403, 429]
    # Even the right PIN waits out the limit.
    assert Client().post(f"{ME}/unlock", {"pin": "4321"}, **bearer(issued.secret)).status_code == 429


def test_a_device_without_a_pin_cannot_be_unlocked_from_the_kiosk(db):
    device = register_device(name="No pin")
    issued = issue_token(device=device)
    response = Client().post(f"{ME}/unlock", {"pin": ""}, **bearer(issued.secret))
    assert response.status_code == 403 and response.json()["error"] == "no_pin"
