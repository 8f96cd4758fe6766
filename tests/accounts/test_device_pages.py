"""The staff device pages: register and edit a device, its tokens (shown once, stored hashed, revoked,
rotated) and pairing a kiosk with a one-time code and its QR code; and the locked kiosk page."""

import hashlib
import re

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.test import Client
from django.urls import reverse

from accounts.devices import check_exit_pin, issue_token, register_device
from accounts.models import Device, DeviceToken, Liveness, PairingCode, Role, User
from attendance.models import Group
from tests.attendance.conftest import make_session
from tests.conftest import missing_key, other_shape_key

pytestmark = pytest.mark.django_db

DEVICES = reverse("accounts:devices")
ME = "/api/v1/devices/me"


def device_url(device, name="accounts:device", *args):
    return reverse(name, args=[device.pk, *args])


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def device(db):
    return register_device(name="Front desk", location="Main entrance", exit_pin="4321")


def registration(**changes):
    return {
        "name": "Hall kiosk",
        "kind": "kiosk",
        "location": "Sports hall",
        "liveness": Liveness.CHALLENGE,
        "exit_pin": "246810",
        "exit_pin_again": "246810",
        **changes,
    }


def kiosk_accounts():
    return User.objects.filter(role=Role.KIOSK).count()


def text(response) -> str:
    return response.content.decode()


# Registering.


def test_staff_register_a_kiosk_with_its_groups_liveness_and_a_hashed_pin(staff_client, staff):
    group = Group.objects.create(name="Class 7B")
    session = make_session(Group.objects.create(name="Class 9A"))
    payload = registration(groups=[str(group.pk)], sessions=[str(session.pk)])
    response = staff_client.post(DEVICES, payload)
    device = Device.objects.get()
    assert response.status_code == 302 and response["Location"] == device_url(device)
    assert device.name == "Hall kiosk" and device.location == "Sports hall" and device.created_by == staff
    assert list(device.groups.all()) == [group] and list(device.sessions.all()) == [session]
    assert device.account.role == Role.KIOSK and device.account.liveness == Liveness.CHALLENGE
    assert "246810" not in device.exit_pin and identify_hasher(device.exit_pin)
    assert check_exit_pin(device=device, pin="246810")
    page = staff_client.get(DEVICES)
    assert 'data-device="Hall kiosk"' in text(page) and "Class 7B" in text(page)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"exit_pin": "123", "exit_pin_again": "123"}, "exit_pin"),
        ({"exit_pin": "12a45", "exit_pin_again": "12a45"}, "exit_pin"),
        ({"exit_pin": "1" * 13, "exit_pin_again": "1" * 13}, "exit_pin"),
        ({"exit_pin": "123456", "exit_pin_again": "654321"}, "exit_pin_again"),
        ({"exit_pin": "", "exit_pin_again": ""}, "exit_pin"),
        ({"name": ""}, "name"),
        ({"kind": "toaster"}, "kind"),
        ({"liveness": "maybe"}, "liveness"),
        ({"groups": ["abc"]}, "groups"),
        ({"sessions": [missing_key()]}, "sessions"),
    ],
)
def test_bad_input_is_a_400_with_the_errors_and_registers_nothing(staff_client, changes, field):
    response = staff_client.post(DEVICES, registration(**changes))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not Device.objects.exists() and kiosk_accounts() == 0


def test_a_camera_needs_no_exit_pin(staff_client):
    response = staff_client.post(DEVICES, registration(kind="camera", exit_pin="", exit_pin_again=""))
    assert response.status_code == 302
    assert Device.objects.get().exit_pin == ""


@pytest.mark.parametrize("name", ["Front desk", "front desk", "Front-Desk"])
def test_a_taken_name_is_a_400_and_adds_no_rows(staff_client, device, name):
    """The same name, or one whose account name (device-front-desk) is taken."""
    response = staff_client.post(DEVICES, registration(name=name))
    assert response.status_code == 400
    assert "taken" in text(response) or "exists already" in text(response)
    assert Device.objects.count() == 1 and kiosk_accounts() == 1


# Who may see the pages.


def test_members_get_403_everywhere(client, member, device):
    client.force_login(member)
    token = issue_token(device=device).token
    assert client.get(DEVICES).status_code == 403
    assert client.post(DEVICES, registration()).status_code == 403
    assert client.get(device_url(device)).status_code == 403
    for name in ("accounts:device-issue-token", "accounts:device-rotate-tokens", "accounts:device-pair"):
        assert client.post(device_url(device, name)).status_code == 403, name
    assert client.post(device_url(device, "accounts:device-revoke-token", token.pk)).status_code == 403
    assert not Device.objects.exclude(pk=device.pk).exists() and DeviceToken.objects.active().count() == 1
    assert not PairingCode.objects.exists()


def test_a_kiosk_account_gets_403(client, device):
    client.force_login(device.account)
    assert client.get(DEVICES).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(client, device):
    response = client.get(device_url(device))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_an_unknown_device_or_token_is_a_404(staff_client, device):
    assert staff_client.get(f"/accounts/devices/{missing_key()}/").status_code == 404
    assert staff_client.get(f"/accounts/devices/{other_shape_key()}/").status_code == 404
    assert staff_client.post(f"/accounts/devices/{missing_key()}/tokens/").status_code == 404
    assert staff_client.post(f"/accounts/devices/{missing_key()}/pair/").status_code == 404
    revoke = device_url(device, "accounts:device-revoke-token", missing_key())
    assert staff_client.post(revoke).status_code == 404
    other = register_device(name="Back door", exit_pin="1111")
    foreign = issue_token(device=other).token
    assert staff_client.post(device_url(device, "accounts:device-revoke-token", foreign.pk)).status_code == 404
    assert DeviceToken.objects.get().is_active


def test_the_nav_has_devices_for_staff_only(client, staff, member):
    client.force_login(staff)
    assert f'href="{DEVICES}"' in text(client.get("/"))
    client.force_login(member)
    assert f'href="{DEVICES}"' not in text(client.get("/"))


# Editing.


def test_editing_keeps_the_pin_when_left_blank(staff_client, device):
    group = Group.objects.create(name="Class 7B")
    payload = registration(name="Front desk 2", exit_pin="", exit_pin_again="", groups=[str(group.pk)])
    payload["liveness"] = Liveness.OFF
    response = staff_client.post(device_url(device), payload)
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.name == "Front desk 2" and list(device.groups.all()) == [group]
    assert device.account.liveness == Liveness.OFF and device.account.last_name == "Front desk 2"
    assert check_exit_pin(device=device, pin="4321")

    staff_client.post(device_url(device), {**payload, "exit_pin": "98765", "exit_pin_again": "98765"})
    device.refresh_from_db()
    assert check_exit_pin(device=device, pin="98765") and not check_exit_pin(device=device, pin="4321")


def test_editing_to_a_taken_name_or_a_bad_pin_is_a_400_and_changes_nothing(staff_client, device):
    register_device(name="Back door", exit_pin="1111")
    assert staff_client.post(device_url(device), registration(name="Back door")).status_code == 400
    bad_pin = registration(name="Renamed", exit_pin="12", exit_pin_again="12")
    assert staff_client.post(device_url(device), bad_pin).status_code == 400
    device.refresh_from_db()
    assert device.name == "Front desk" and check_exit_pin(device=device, pin="4321")


# Tokens.


def test_an_issued_token_is_shown_once_stored_hashed_and_never_shown_again(staff_client, device):
    response = staff_client.post(device_url(device, "accounts:device-issue-token"))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'id="token-secret">(atx_[^<]+)<', text(response)).group(1)
    stored = DeviceToken.objects.get()
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest() and secret not in stored.digest
    assert secret.startswith(f"atx_{stored.prefix}_")
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200

    later = [staff_client.get(device_url(device)), staff_client.get(DEVICES)]
    for page in later:
        assert secret not in text(page) and 'id="token-secret"' not in text(page)
        assert stored.prefix in text(later[0])
    assert secret not in str(dict(staff_client.session.items()))


def test_the_tokens_table_shows_last_use_and_revocation(staff_client, device):
    issued = issue_token(device=device)
    Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    page = text(staff_client.get(device_url(device)))
    row = re.search(rf'<tr data-token="{issued.token.prefix}">.*?</tr>', page, re.S)
    assert "never" not in row.group(0) and "active" in row.group(0)

    response = staff_client.post(device_url(device, "accounts:device-revoke-token", issued.token.pk))
    assert response.status_code == 302 and response["Location"] == device_url(device)
    assert DeviceToken.objects.get().revoked_at is not None
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {issued.secret}").status_code == 401
    page = staff_client.get(device_url(device))
    assert "revoked" in text(page) and f"Token {issued.token.prefix} revoked" in text(page)


def test_rotating_revokes_every_token_and_shows_the_new_one_once(staff_client, device):
    first, second = issue_token(device=device), issue_token(device=device)
    response = staff_client.post(device_url(device, "accounts:device-rotate-tokens"))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'id="token-secret">(atx_[^<]+)<', text(response)).group(1)
    assert DeviceToken.objects.active().get().digest == hashlib.sha256(secret.encode()).hexdigest()
    for old in (first, second):
        assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {old.secret}").status_code == 401
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    assert secret not in text(staff_client.get(device_url(device)))


def test_token_actions_take_post_only(staff_client, device):
    assert staff_client.get(device_url(device, "accounts:device-issue-token")).status_code == 405
    assert staff_client.get(device_url(device, "accounts:device-pair")).status_code == 405
    assert not DeviceToken.objects.exists() and not PairingCode.objects.exists()


# Pairing a kiosk.


def test_the_pairing_page_shows_a_code_its_expiry_and_a_qr_code_of_the_kiosk_url(staff_client, device):
    response = staff_client.post(device_url(device, "accounts:device-pair"))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = text(response)
    code = re.search(r'id="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', page).group(1)
    assert f"http://testserver/kiosk/?code={code}" in page
    assert re.search(r'id="pairing-qr"><svg[^>]*>.*?<path', page, re.S)
    assert 'id="pairing-expires"' in page
    pairing = PairingCode.objects.get()
    assert code.replace("-", "") not in pairing.digest and pairing.created_by is not None

    answer = Client().post("/api/v1/devices/pair", {"code": code}, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["device"]["name"] == "Front desk"
    assert code not in text(staff_client.get(device_url(device)))


def test_a_camera_page_offers_no_pairing(staff_client):
    camera = register_device(name="Gate camera", kind="camera")
    assert 'id="pair-kiosk"' not in text(staff_client.get(device_url(camera)))


# The locked kiosk page.


@pytest.mark.parametrize("who", ["anonymous", "kiosk", "staff"])
def test_the_locked_kiosk_page_has_no_link_no_sign_out_and_forms_only_to_the_api(client, device, staff, who):
    if who != "anonymous":
        client.force_login(device.account if who == "kiosk" else staff)
    response = client.get("/kiosk/")
    assert response.status_code == 200
    page = text(response)
    assert "<a " not in page and "href=" not in page.replace('rel="stylesheet" href=', "")
    assert "Sign out" not in page and "csrfmiddlewaretoken" not in page
    actions = re.findall(r'<form[^>]*action="([^"]*)"', page)
    assert actions == ["/api/v1/devices/pair", "/api/v1/devices/me/unlock"]
    assert len(re.findall(r"<form", page)) == 2


GARBAGE = ["", "x" * 10_000, "\x00", "99999999999999999999", "-1", "1.5", "é" * 300, "<script>"]
FIELDS = ["name", "kind", "location", "liveness", "exit_pin", "exit_pin_again", "groups", "sessions"]


@pytest.mark.parametrize("field", FIELDS)
def test_garbage_in_any_field_is_a_4xx_never_a_500(staff_client, device, field):
    for value in GARBAGE:
        for url in (DEVICES, device_url(device)):
            payload = registration(**{field: [value, "abc"] if field in ("groups", "sessions") else value})
            response = staff_client.post(url, payload)
            assert response.status_code in (302, 400), (field, value, url, response.status_code)
