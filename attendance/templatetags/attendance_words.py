"""Attendance's codes in the reader's language: a roster status or a mark's method as a word, and the
texts the kiosk scripts show (kiosk.js, kiosk_fallback.js), which both kiosk pages hand them as JSON."""

from django import template
from django.utils.html import json_script
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from attendance.registers import STATUS_WORDS

register = template.Library()


@register.filter
def status_word(status) -> str:
    """present, late, excused, absent; "not yet" for a person still expected."""
    return str(STATUS_WORDS.get(status, status))


@register.filter
def method_word(method) -> str:
    """How a mark was made, as the roster shows it: face, camera, upload, manual, pin, qr."""
    words = {
        "face": pgettext("how a mark was made", "face"),
        "camera": pgettext("how a mark was made", "camera"),
        "upload": pgettext("how a mark was made", "upload"),
        "manual": pgettext("how a mark was made", "manual"),
        "pin": pgettext("how a mark was made", "pin"),
        "qr": pgettext("how a mark was made", "qr"),
    }
    return words.get(method, method)


def kiosk_text() -> dict[str, str]:
    """What kiosk.js and kiosk_fallback.js say of their own (the server's answers come translated)."""
    return {
        "look": _("Look at the camera"),
        "standInFront": _("Stand in front of the camera"),
        "noCamera": _("No camera here: use the upload form."),
        "cameraFailed": _("The camera could not be opened: use the upload form."),
        "wentWrong": _("Something went wrong."),
        "connection": _("Connection problem: retrying."),
        "checking": _("Checking…"),
        "notRecognised": _("Not recognised."),
        "connectionTryAgain": _("Connection problem: try again."),
        "noQrCard": _("No QR card seen. Try again, or use the keypad."),
        "holdQrCard": _("Hold your QR card up to the camera"),
    }


@register.simple_tag
def kiosk_text_script() -> str:
    """<script type="application/json" id="kiosk-text">: the kiosk scripts read their words from it."""
    return json_script(kiosk_text(), "kiosk-text")
