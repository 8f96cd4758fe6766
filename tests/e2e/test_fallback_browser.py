"""Check-in without a face in a real browser: the kiosk's keypad, with the login typed and the PIN tapped."""

import pytest

from attendance import fallback
from attendance.models import Group, Record
from tests.attendance.conftest import make_session
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_kiosk_keypad_checks_in_by_pin(live_server, browser_with_camera, kiosk):
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    group = Group.objects.create(name="Class 3C")
    group.members.set([ada])
    make_session(group)
    fallback.set_pin(person=ada, pin="4821", by=None)

    page = browser_with_camera("steve_carell/01.jpg")
    sign_in(page, live_server.url, kiosk.username, PASSWORD)
    page.click("#fallback-open")
    page.fill("#fallback-login", "ada")
    page.click("#fallback-pin")
    for digit in "4829":
        page.click(f".fallback-key[data-digit='{digit}']")
    page.click(".fallback-ok")
    page.wait_for_selector("#fallback-message:has-text('Not recognised.')")
    for digit in "4821":
        page.click(f".fallback-key[data-digit='{digit}']")
    page.click(".fallback-ok")
    page.wait_for_selector("#kiosk-result.tone-ok:has-text('Ada Lovelace: checked in at')", timeout=10_000)
    screenshot(page, "fallback-keypad-checked-in")
    assert page.is_hidden("#fallback-pad")
    assert Record.objects.get(person=ada).method == "pin"
