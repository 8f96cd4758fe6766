"""Devices at the door: `Authorization: Bearer` requests are a registered device's (accounts.devices),
and kiosk accounts may reach the check-in pages and nothing else."""

from django.conf import settings
from django.http import HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.devices import authenticate_token

BAD_TOKEN = gettext_lazy("Send a valid device token: `Authorization: Bearer atx_...`. It may have been revoked.")


def bad_token_response() -> JsonResponse:
    response = JsonResponse({"error": "bad_token", "detail": str(BAD_TOKEN)}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="attendx"'
    return response


class DeviceTokenMiddleware:
    """A bearer token signs the request in as its device's kiosk account, without CSRF (nothing in a
    browser sends it by itself); a wrong, revoked or malformed one is answered 401 here.

    Sets ``request.device`` and ``request.device_token`` (None for every other request). Other schemes
    (Basic, ...) are left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.device = request.device_token = None
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return self.get_response(request)
        token = authenticate_token(secret.strip())
        if token is None:
            return bad_token_response()
        request.user = token.device.account
        request.device, request.device_token = token.device, token
        # CsrfViewMiddleware honours this flag; a cookie-signed-in request never gets here.
        request._dont_enforce_csrf_checks = True
        return self.get_response(request)


class KioskRestrictionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_kiosk:
            return None
        if request.resolver_match.view_name in settings.KIOSK_ALLOWED_URL_NAMES:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"error": "forbidden", "detail": _("Devices can only submit check-ins.")}, status=403)
        return HttpResponseForbidden(_("Kiosk accounts can only submit check-ins."))
