"""View decorators by role. Signed-in people without the role get 403; anonymous ones never reach
here (LoginRequiredMiddleware sends them to sign in)."""

import functools

from django.core.exceptions import PermissionDenied

from accounts.models import STAFF_ROLES, Role


def roles_required(*roles):
    allowed = frozenset(roles)

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if getattr(request.user, "role", None) not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = roles_required(*STAFF_ROLES)
check_in_devices_required = roles_required(Role.KIOSK, *STAFF_ROLES)
