"""Kiosk accounts are devices: they may reach the check-in pages and nothing else."""

from django.conf import settings
from django.http import HttpResponseForbidden


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
        return HttpResponseForbidden("Kiosk accounts can only submit check-ins.")
