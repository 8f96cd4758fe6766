"""Django REST framework's view of a device token: accounts.middleware.DeviceTokenMiddleware has already
checked it (and answered 401 for a bad one); this hands its device (accounts.models.Device) to DRF as
``request.auth``."""

from rest_framework.authentication import BaseAuthentication


class DeviceTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        device = getattr(request._request, "device", None)
        if device is None:
            return None
        return (request._request.user, device)

    def authenticate_header(self, request):
        return 'Bearer realm="attendx"'
