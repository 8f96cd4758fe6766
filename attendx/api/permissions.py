"""Who may call what: staff everything but check-ins need a device or staff; members and devices get 403."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from accounts.models import STAFF_ROLES, Role


class IsStaffRole(BasePermission):
    """Administrators and staff; members and devices are refused (403), anonymous callers 401."""

    message = _("Only staff and administrators may use this.")

    def has_permission(self, request, view):
        return getattr(request.user, "role", None) in STAFF_ROLES


class CanCheckIn(BasePermission):
    message = _("Only a device (kiosk or camera) or a staff account may check people in.")

    def has_permission(self, request, view):
        return getattr(request.user, "role", None) in {Role.KIOSK, *STAFF_ROLES}
