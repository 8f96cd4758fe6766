"""Staff pages of the registered devices (register, edit, tokens, pairing a kiosk) and the locked kiosk
page a paired browser runs. Views validate a form, call one service of accounts.devices, and answer.

A new token or pairing code is rendered once, in the answer to the POST that made it, with
``Cache-Control: no-store``: never in a URL, never in a message kept in the session.
"""

from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import devices
from accounts.decorators import staff_required
from accounts.device_forms import DeviceForm
from accounts.models import Device, DeviceToken
from attendx.forms import error_status, error_text

NAME_TAKEN = gettext_lazy("That name is taken by another device or its account: choose another.")


def _device(device_id) -> Device:
    return get_object_or_404(Device.objects.select_related("account"), pk=device_id)


def _settings(form: DeviceForm) -> dict:
    data = form.cleaned_data
    return {key: data[key] for key in ("name", "kind", "location", "groups", "sessions", "liveness", "exit_pin")}


def _refuse(request, form) -> int:
    messages.error(request, error_text(form))
    return error_status(form)


def _list_page(request, form, *, status=200):
    rows = []
    # Only the tokens are prefetched: django-mongodb-backend refuses prefetch_related() on many-to-many fields.
    for device in Device.objects.select_related("account").prefetch_related("tokens"):
        active = [token for token in device.tokens.all() if token.is_active]
        used = [token.last_used_at for token in device.tokens.all() if token.last_used_at]
        rows.append({"device": device, "active_tokens": len(active), "last_used_at": max(used, default=None)})
    context = {"rows": rows, "form": form}
    return render(request, "accounts/device_list.html", context, status=status)


def _detail_page(request, device, *, form=None, issued=None, status=200):
    context = {
        "device": device,
        "form": form or DeviceForm(device=device),
        "tokens": device.tokens.all(),
        "issued": issued,
        "groups": device.groups.all(),
        "sessions": device.sessions.select_related("group"),
    }
    response = render(request, "accounts/device_detail.html", context, status=status)
    if issued is not None:
        response["Cache-Control"] = "private, no-store"
    return response


@staff_required
def device_list(request):
    if request.method != "POST":
        return _list_page(request, DeviceForm())
    form = DeviceForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=_refuse(request, form))
    try:
        device = devices.register_device(**_settings(form), by=request.user)
    except IntegrityError:
        form.add_error("name", NAME_TAKEN)
        return _list_page(request, form, status=_refuse(request, form))
    messages.success(
        request, _("%(device)s is registered: pair a kiosk browser or issue a token below.") % {"device": device.name}
    )
    return redirect("accounts:device", device_id=device.pk)


@staff_required
def device_detail(request, device_id):
    device = _device(device_id)
    if request.method != "POST":
        return _detail_page(request, device)
    form = DeviceForm(request.POST, device=device)
    if not form.is_valid():
        return _detail_page(request, device, form=form, status=_refuse(request, form))
    try:
        devices.update_device(device=device, **_settings(form))
    except IntegrityError:
        form.add_error("name", NAME_TAKEN)
        return _detail_page(request, _device(device_id), form=form, status=_refuse(request, form))
    messages.success(request, _("%(device)s saved.") % {"device": device.name})
    return redirect("accounts:device", device_id=device.pk)


@require_POST
@staff_required
def device_issue_token(request, device_id):
    device = _device(device_id)
    return _detail_page(request, device, issued=devices.issue_token(device=device))


@require_POST
@staff_required
def device_rotate_tokens(request, device_id):
    device = _device(device_id)
    return _detail_page(request, device, issued=devices.issue_token(device=device, replace=True))


@require_POST
@staff_required
def device_revoke_token(request, device_id, token_id):
    device = _device(device_id)
    token = get_object_or_404(DeviceToken, pk=token_id, device=device)
    devices.revoke_token(token=token)
    messages.success(
        request, _("Token %(prefix)s revoked: whatever used it is refused from now on.") % {"prefix": token.prefix}
    )
    return redirect("accounts:device", device_id=device.pk)


def pairing_qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url`` (segno: pure Python, no image files)."""
    return segno.make(url, error="m").svg_inline(scale=6, border=2, dark="#1b2330")


@require_POST
@staff_required
def device_pair(request, device_id):
    device = _device(device_id)
    issued = devices.start_pairing(device=device, by=request.user)
    url = request.build_absolute_uri(reverse("kiosk-locked")) + "?" + urlencode({"code": issued.code})
    context = {
        "device": device,
        "code": issued.code,
        "expires_at": issued.pairing.expires_at,
        "pair_url": url,
        "kiosk_url": request.build_absolute_uri(reverse("kiosk-locked")),
        "qr_svg": mark_safe(pairing_qr_svg(url)),  # noqa: S308 - segno's SVG of our own URL
    }
    response = render(request, "accounts/device_pairing.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@login_not_required
@never_cache
def locked_kiosk(request):
    """The kiosk in locked mode. The page holds no secret: the browser keeps its device token in
    localStorage and calls the device API with it (accounts/static/accounts/locked_kiosk.js). The script's
    words come with the page, in the reader's language."""
    return render(request, "accounts/locked_kiosk.html", {"kiosk_text": locked_kiosk_text()})


def locked_kiosk_text() -> dict[str, str]:
    """What locked_kiosk.js says; it puts the numbers in place of %(seconds)s and %(time)s."""
    return {
        "unpaired": _("This kiosk is no longer paired. Staff: pair it again from its page in AttendX."),
        "until": _("until %(time)s"),
        "noSession": _("No session is open right now."),
        "noCamera": _("No camera here: this kiosk cannot check anyone in."),
        "cameraFailed": _("The camera could not be opened: check that it is plugged in, then restart the kiosk."),
        "retryIn": _("in %(seconds)s s"),
        "pairUnreachable": _("Cannot reach AttendX: try again in a moment."),
        "pairWait": _("Too many attempts: wait %(seconds)s seconds, then try again."),
        "pairFailed": _("That code did not work."),
        "typeCode": _("Type the code shown on the device's page."),
        "unlocked": _("Unlocked: leaving the kiosk."),
        "pinWait": _("Too many tries: wait %(seconds)s seconds."),
        "wrongPin": _("Wrong PIN: the kiosk stays locked."),
        "cannotUnlock": _("The kiosk cannot be unlocked."),
        "pinUnreachable": _("Cannot reach AttendX: try again when it is back."),
        "typePin": _("Type the staff PIN."),
    }
