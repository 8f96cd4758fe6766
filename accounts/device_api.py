"""The API a device calls about itself: pair a kiosk browser with a one-time code, read what it serves,
and leave locked mode with the staff PIN (docs/devices.md)."""

from django.contrib.auth.decorators import login_not_required
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response

from accounts.authentication import DeviceTokenAuthentication
from accounts.devices import PairingRefused, check_exit_pin, pair, revoke_token
from attendx.ratelimit import rate_from_setting, ratelimit


class IsDevice(BasePermission):
    message = gettext_lazy("Only a device, with its token, may call this.")

    def has_permission(self, request, view):
        return getattr(request._request, "device", None) is not None


class PairSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="the code on the staff device page, e.g. ABCD-EFGH")


class PinSerializer(serializers.Serializer):
    pin = serializers.CharField(max_length=32)


DeviceSerializer = inline_serializer(
    "Device",
    {
        "id": serializers.CharField(),
        "name": serializers.CharField(),
        "kind": serializers.CharField(),
        "location": serializers.CharField(),
        "sessions_open": serializers.ListField(child=serializers.DictField()),
    },
)
ERROR = inline_serializer("DeviceError", {"error": serializers.CharField(), "detail": serializers.CharField()})


def describe(device) -> dict:
    from attendance.models import Session

    running = device.serves(Session.objects.running_at(timezone.now()).select_related("group"))
    return {
        "id": str(device.pk),
        "name": device.name,
        "kind": device.kind,
        "location": device.location,
        "sessions_open": [
            {"id": str(s.pk), "title": s.title, "group": s.group.name, "ends_at": s.ends_at.isoformat()}
            for s in running
        ],
    }


def _refused(status: int, code: str, detail: str) -> Response:
    return Response({"error": code, "detail": detail}, status=status)


@extend_schema(
    request=PairSerializer,
    responses={
        201: inline_serializer("Paired", {"token": serializers.CharField(), "device": DeviceSerializer}),
        400: ERROR,
        429: ERROR,
    },
    summary="Pair a kiosk browser",
    description="Redeems a one-time code from the staff device page for the device's token (shown once). "
    "The token replaces the device's earlier ones. Limited per client address (DEVICES_PAIR_RATE).",
    tags=["devices"],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def pair_device(request):
    form = PairSerializer(data=request.data)
    if not form.is_valid():
        return _refused(400, "bad_code", _("Send the pairing code as `code`."))
    try:
        device, issued = pair(code=form.validated_data["code"])
    except PairingRefused as refused:
        return _refused(400, "bad_code", str(refused.message))
    return Response({"token": issued.secret, "device": describe(device)}, status=201)


@extend_schema(
    responses={200: DeviceSerializer, 401: ERROR, 403: ERROR},
    summary="The calling device",
    description="The device whose token signs the request, and the sessions it serves that are open now.",
    tags=["devices"],
)
@api_view(["GET"])
@authentication_classes([DeviceTokenAuthentication])
@permission_classes([IsDevice])
def device_me(request):
    return Response(describe(request.auth))


@extend_schema(
    request=PinSerializer,
    responses={
        200: inline_serializer("Unpaired", {"unpaired": serializers.BooleanField()}),
        401: ERROR,
        403: ERROR,
        429: ERROR,
    },
    summary="Leave locked mode",
    description="With the device's staff PIN, revokes the token that signs the request: the kiosk browser "
    "forgets it and leaves locked mode. Limited per device (DEVICES_UNLOCK_RATE).",
    tags=["devices"],
)
@api_view(["POST"])
@authentication_classes([DeviceTokenAuthentication])
@permission_classes([IsDevice])
def device_unlock(request):
    form = PinSerializer(data=request.data)
    device = request.auth
    if not device.exit_pin:
        return _refused(403, "no_pin", _("This device has no staff PIN: staff revoke its token on its page."))
    if not form.is_valid() or not check_exit_pin(device=device, pin=form.validated_data["pin"]):
        return _refused(403, "wrong_pin", _("That PIN is not right."))
    revoke_token(token=request._request.device_token)
    return Response({"unpaired": True})


# Limits outside DRF: django-ratelimit counts in Redis (attendx.ratelimit), refusing while it is down.
pair_device = login_not_required(ratelimit(rate=rate_from_setting("DEVICES", "PAIR_RATE"), key="ip")(pair_device))
device_unlock = login_not_required(
    ratelimit(rate=rate_from_setting("DEVICES", "UNLOCK_RATE"), key="user")(device_unlock)
)
# Without a token DRF answers 401 in JSON, rather than the sign-in redirect that pages get.
device_me = login_not_required(device_me)
