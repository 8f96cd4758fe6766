"""A kiosk paired from the staff device page and run locked, in the real browser: it checks people in
with its own token (no cookie, no CSRF), survives a reload, says when the server is unreachable, and
leaves only with the staff PIN."""

import re

import pytest

from accounts.models import Device, DeviceToken
from attendance.models import Record
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_KEY = "attendx.kiosk.token"


def press_and_hold(page, selector: str, milliseconds: int):
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(milliseconds)
    page.mouse.up()


def qr_text(png: bytes) -> str:
    """What a phone's camera app would read from this picture of a QR code (OpenCV's detector)."""
    import cv2
    import numpy as np

    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))
    return text


def type_pin(page, pin: str):
    for digit in pin:
        page.click(f".pin-key[data-digit='{digit}']")
    page.click("#pin-ok")


def test_staff_pair_a_kiosk_which_runs_locked_and_leaves_with_the_pin(
    live_server, browser_with_camera, classroom, staff
):
    angelina = classroom.people["angelina_jolie"]

    # Staff register the kiosk and ask for a pairing code.
    desk = browser_with_camera("_none/brick.png")
    sign_in(desk, live_server.url, staff.username, PASSWORD)
    desk.click("nav >> text=Devices")
    desk.fill("#id_name", "Front desk")
    desk.fill("#id_location", "Main entrance")
    desk.check(f"#device-form label:has-text('{classroom.group.name}') input")
    desk.fill("#id_exit_pin", "2468")
    desk.fill("#id_exit_pin_again", "2468")
    screenshot(desk, "kiosk-01-register-device")
    desk.click("#device-form button[type=submit]")
    desk.wait_for_selector("#pair-kiosk")
    device = Device.objects.get(name="Front desk")
    assert list(device.groups.all()) == [classroom.group]
    desk.click("#pair-kiosk")
    code = desk.inner_text("#pairing-code")
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert qr_text(desk.locator("#pairing-qr svg").screenshot()) == f"{live_server.url}/kiosk/?code={code}"
    screenshot(desk, "kiosk-02-pairing-code")

    # The kiosk browser: locked, nothing to click away to.
    kiosk = browser_with_camera("angelina_jolie/02.jpg")
    dialogs, check_ins, errors = [], [], []
    kiosk.on("pageerror", lambda error: errors.append(str(error)))
    kiosk.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    kiosk.on("request", lambda request: check_ins.append(request) if "/api/check-ins" in request.url else None)
    kiosk.goto(f"{live_server.url}/kiosk/")
    kiosk.wait_for_selector("#pair-code")
    assert kiosk.locator("a[href]").count() == 0
    assert kiosk.get_by_text("Sign out").count() == 0
    actions = kiosk.eval_on_selector_all("form", "forms => forms.map(form => form.getAttribute('action'))")
    assert actions and all(action.startswith("/api/v1/devices/") for action in actions)
    screenshot(kiosk, "kiosk-03-pairing-form")
    kiosk.fill("#pair-code", code.lower().replace("-", " "))  # typed loosely: still the code
    kiosk.click("#pair-submit")
    kiosk.wait_for_selector("#locked-paired:not([hidden])")
    assert kiosk.inner_text("#device-name") == "Front desk"
    assert classroom.session.title in kiosk.inner_text("#device-sessions")
    assert kiosk.evaluate(f"localStorage.getItem('{TOKEN_KEY}')").startswith("atx_")

    kiosk.wait_for_selector("#kiosk-result.tone-ok", timeout=30_000)
    assert "Angelina Jolie: checked in at" in kiosk.inner_text("#kiosk-result")
    screenshot(kiosk, "kiosk-04-checked-in")
    record = Record.objects.get(person=angelina)
    assert record.device == device.account and record.method == "face"
    headers = check_ins[0].all_headers()
    assert headers["authorization"].startswith("Bearer atx_")
    assert "cookie" not in headers and "x-csrftoken" not in headers
    assert kiosk.context.cookies() == []

    # Held on to: full screen after the first tap; no context menu, selection or reload shortcut.
    assert kiosk.evaluate("document.fullscreenElement === document.documentElement")
    prevented = """type => !document.getElementById('device-name').dispatchEvent(
        new MouseEvent(type, {bubbles: true, cancelable: true}))"""
    assert kiosk.evaluate(prevented, "contextmenu") and kiosk.evaluate(prevented, "selectstart")
    kiosk.evaluate("window.stillHere = true")
    for key in ("F5", "Control+r", "Control+l", "Escape", "Alt+ArrowLeft", "Backspace"):
        kiosk.keyboard.press(key)
    kiosk.wait_for_timeout(300)
    assert kiosk.evaluate("window.stillHere === true && document.fullscreenElement !== null")

    # A short press on the name does nothing; a reload keeps it paired and checking in.
    kiosk.click("#device-name")
    assert kiosk.locator("#pin-pad").is_hidden()
    kiosk.reload()
    assert "beforeunload" in dialogs  # the guard asked before leaving the page
    kiosk.wait_for_selector("#locked-paired:not([hidden])")
    kiosk.wait_for_selector("#kiosk-result.tone-info", timeout=30_000)
    assert "Angelina Jolie: already checked in at" in kiosk.inner_text("#kiosk-result")
    assert Record.objects.count() == 1

    # The server unreachable: a banner, gone when it answers again.
    kiosk.route("**/api/**", lambda route: route.abort())
    kiosk.wait_for_selector("#locked-banner:not([hidden])", timeout=15_000)
    assert "Cannot reach AttendX" in kiosk.inner_text("#locked-banner")
    screenshot(kiosk, "kiosk-05-unreachable")
    kiosk.unroute("**/api/**")
    kiosk.wait_for_selector("#locked-banner", state="hidden", timeout=15_000)
    assert kiosk.locator("#locked-paired:not([hidden])").count() == 1

    # Leaving: a 3-second press on the name opens the PIN pad; a wrong PIN keeps it locked.
    press_and_hold(kiosk, "#device-name", 3200)
    kiosk.wait_for_selector("#pin-pad:not([hidden])")
    type_pin(kiosk, "1357")
    kiosk.wait_for_selector("#pin-message.tone-bad")
    assert "Wrong PIN" in kiosk.inner_text("#pin-message")
    screenshot(kiosk, "kiosk-06-wrong-pin")
    assert DeviceToken.objects.active().filter(device=device).count() == 1
    type_pin(kiosk, "2468")
    kiosk.wait_for_url(f"{live_server.url}/accounts/login/**")
    assert kiosk.evaluate(f"localStorage.getItem('{TOKEN_KEY}')") is None
    token = DeviceToken.objects.get(device=device)
    assert token.revoked_at is not None
    screenshot(kiosk, "kiosk-07-left-to-sign-in")

    # Paired again from a QR code's URL; staff revoke the token and the kiosk says so.
    with desk.expect_navigation():
        desk.click("#new-code")
    assert desk.inner_text("#pairing-code") != code
    code = desk.inner_text("#pairing-code")
    kiosk.goto(f"{live_server.url}/kiosk/?code={code}")
    kiosk.wait_for_selector("#locked-paired:not([hidden])")
    assert kiosk.url == f"{live_server.url}/kiosk/"
    desk.goto(f"{live_server.url}/accounts/devices/{device.pk}/")
    desk.click("#device-tokens button:has-text('Revoke')")
    desk.wait_for_selector("text=revoked: whatever used it is refused")
    kiosk.wait_for_selector("#locked-pairing:not([hidden])", timeout=15_000)
    assert "no longer paired" in kiosk.inner_text("#pair-message")
    assert kiosk.evaluate(f"localStorage.getItem('{TOKEN_KEY}')") is None
    screenshot(kiosk, "kiosk-08-no-longer-paired")
    desk.click("#issue-token")
    secret = desk.inner_text("#token-secret")
    assert secret.startswith("atx_") and DeviceToken.objects.active().filter(device=device).count() == 1
    screenshot(desk, "kiosk-09-device-page-token-shown-once")
    desk.goto(f"{live_server.url}/accounts/devices/")
    assert secret not in desk.content()
    screenshot(desk, "kiosk-10-device-list")
    assert not errors
