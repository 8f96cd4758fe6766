"""Attendance in the JSON API (/api/v1/): groups, sessions and records for staff; check-ins for devices;
records as CSV. Reads go through attendance.selectors, check-ins through the legacy view's machinery."""

from django.conf import settings
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit
from accounts.models import AuditAction, User
from attendance import exports, fallback, selectors, views
from attendance.models import Group, Method, Record, Session, Status
from attendance.outcomes import Result
from attendance.presence import Status as LivenessStatus
from attendance.services import NoSessionRunning, SessionNotServed
from attendx.api.errors import Error
from attendx.api.fields import KEY_PATTERN, DayRange, KeyField, KeyLookup, KeyRelatedField, Moment, filters_from
from attendx.api.permissions import CanCheckIn
from attendx.api.querysets import joined, prefetched
from attendx.api.schema import documented_lookup
from attendx.api.viewsets import EditableViewSet
from attendx.ratelimit import rate_from_setting, ratelimit
from faces.exceptions import ImageRejected
from faces.matching import Decision
from faces.uploads import decode_upload

# Groups.


class GroupSerializer(serializers.ModelSerializer):
    id = KeyField()
    members = KeyRelatedField(
        many=True, required=False, queryset=User.objects.members(), help_text="the ids of its people"
    )

    class Meta:
        model = Group
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = ["created_at"]


@documented_lookup
class GroupViewSet(EditableViewSet):
    """Groups by name."""

    serializer_class = GroupSerializer
    queryset = Group.objects.order_by("name", "pk")

    def get_queryset(self):
        return prefetched(super().get_queryset(), "members")


# Sessions.


class SessionSerializer(serializers.ModelSerializer):
    id = KeyField()
    group = KeyRelatedField(queryset=Group.objects.all())
    starts_at = Moment()
    ends_at = Moment()

    class Meta:
        model = Session
        fields = ["id", "group", "title", "starts_at", "ends_at", "late_after_minutes", "location"]

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": "A session must end after it starts."})
        return attrs


class SessionFilters(DayRange):
    group = KeyRelatedField(queryset=Group.objects.all(), required=False, help_text="only this group's sessions")


def _in_days(sessions, filters: dict):
    """``sessions`` narrowed to those starting within the filters' days (the organisation's time zone)."""
    return sessions.between(filters.get("from"), filters.get("to"))


@documented_lookup
class SessionViewSet(EditableViewSet):
    """Sessions, latest start first; filtered by ``group`` and by the days they start (``from``, ``to``)."""

    serializer_class = SessionSerializer
    queryset = Session.objects.select_related("group").order_by("-starts_at", "pk")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        filters = filters_from(SessionFilters, self.request)
        if filters.get("group"):
            queryset = queryset.filter(group=filters["group"])
        return _in_days(queryset, filters)

    @extend_schema(parameters=[SessionFilters])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# Records.


class RecordSerializer(serializers.ModelSerializer):
    id = KeyField()
    session = KeyField(source="session_id")
    group = KeyField(source="session.group_id")
    person = KeyField(source="person_id")
    marked_by = KeyField(source="marked_by_id", allow_null=True, help_text="staff who marked it by hand, or null")
    device = KeyField(source="device_id", allow_null=True, help_text="the device account that saw the face, or null")
    reason = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="the absence reason's code, or null"
    )
    worked_minutes = serializers.SerializerMethodField(
        help_text="whole minutes from marked_at (the arrival) to checked_out_at; null until checked out"
    )

    class Meta:
        model = Record
        fields = [
            "id",
            "session",
            "group",
            "person",
            "status",
            "marked_at",
            "checked_out_at",
            "worked_minutes",
            "method",
            "marked_by",
            "device",
            "reason",
            "note",
            "edited_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0))
    def get_worked_minutes(self, record) -> int | None:
        return selectors.worked_minutes(selectors.arrival_of(record), record.checked_out_at)


class RecordFilters(DayRange):
    group = KeyRelatedField(queryset=Group.objects.all(), required=False, help_text="sessions of this group")
    person = KeyRelatedField(queryset=User.objects.all(), required=False, help_text="this person's records")
    status = serializers.ChoiceField(choices=Status.choices, required=False)


@documented_lookup
class RecordViewSet(KeyLookup, viewsets.ReadOnlyModelViewSet):
    """Attendance marks, read only, in session order; ``from`` and ``to`` are the days their sessions start."""

    serializer_class = RecordSerializer
    queryset = Record.objects.select_related("session", "reason")

    def get_queryset(self):
        if self.action != "list":
            return super().get_queryset()
        filters = filters_from(RecordFilters, self.request)
        start, end = filters.get("from"), filters.get("to")
        records = selectors.records_for_export(group=filters.get("group"), start=start, end=end)
        records = joined(records, "session", "reason")
        if filters.get("person"):
            records = records.filter(person=filters["person"])
        if filters.get("status"):
            records = records.filter(status=filters["status"])
        return records.order_by(
            "session__starts_at", "session_id", "person__last_name", "person__first_name", "person_id", "pk"
        )

    @extend_schema(parameters=[RecordFilters])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# Exports.


class ExportFilters(DayRange):
    """A group, a range of days (``from`` and ``to`` both), or both."""

    MAX_DAYS = 366
    group = KeyRelatedField(queryset=Group.objects.all(), required=False, help_text="only this group's sessions")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start, end = attrs.get("from"), attrs.get("to")
        if (start is None) != (end is None):
            raise serializers.ValidationError(_("Give both `from` and `to`, or neither."))
        if start is None and attrs.get("group") is None:
            raise serializers.ValidationError(_("Give a range of days (`from`, `to`), a `group`, or both."))
        if start is not None and (end - start).days > self.MAX_DAYS:
            raise serializers.ValidationError(_("Export at most one year at a time."))
        return attrs


class CSVRenderer(BaseRenderer):
    """Lets clients ask for ``text/csv``; the CSV itself is written by the view, errors stay JSON."""

    media_type, format = "text/csv", "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class RecordExportView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]
    throttle_scope = "export"

    @extend_schema(
        operation_id="exports_records",
        summary="Records as CSV",
        description="One row per record, in session order, with the columns of the staff export page. Cells "
        "that a spreadsheet would run as a formula start with an apostrophe.",
        parameters=[ExportFilters],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the records, as CSV"),
            400: OpenApiResponse(Error, description="Invalid filters: see `fields`"),
        },
    )
    def get(self, request):
        filters = filters_from(ExportFilters, request)
        start, end = filters.get("from"), filters.get("to")
        records = selectors.records_for_export(group=filters.get("group"), start=start, end=end)
        records = joined(records, "session__group", "person", "marked_by", "reason")
        name = f"attendance-{start}-to-{end}.csv" if start else f"attendance-group-{filters['group'].pk}.csv"
        ordered = records.order_by("session__starts_at", "session_id", "person__last_name", "person_id", "pk")
        response = exports.csv_response(name, (exports.record_row(record) for record in ordered))
        group = filters.get("group")
        audit(
            action=AuditAction.EXPORTED,
            actor=request.user,
            export="api",
            start=str(start or ""),
            end=str(end or ""),
            group=str(group.pk) if group is not None else "",
        )
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: JSON, whatever the client accepts
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


# Check-ins: the answer of the legacy view (attendance.views.api_check_in), behind DRF's authentication.


class CheckInRequest(serializers.Serializer):
    image = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=6,
        help_text="one to ATTENDANCE_BURST_MAX_FRAMES (6) frames, oldest first: JPEG, PNG or WebP, each at most "
        "FACES_MAX_UPLOAD_BYTES (10 MB) and FACES_MAX_FRAME_PIXELS (9 megapixels)",
    )
    session = serializers.RegexField(
        KEY_PATTERN, required=False, help_text="the session's id; by default every session open now"
    )


class PersonNamed(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class RecordMade(serializers.Serializer):
    id = serializers.CharField()
    session = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    marked_at = serializers.DateTimeField(help_text="when the person arrived")
    checked_out_at = serializers.DateTimeField(allow_null=True, help_text="when they checked out, or null")
    method = serializers.ChoiceField(choices=Method.choices)


class Agreement(serializers.Serializer):
    frames = serializers.IntegerField(help_text="distinct recent frames that accepted the person")
    needed = serializers.IntegerField()


class Liveness(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(str(s), str(s)) for s in LivenessStatus])
    challenge = serializers.CharField(allow_null=True)


class FaceAnswer(serializers.Serializer):
    box = serializers.ListField(
        child=serializers.IntegerField(), min_length=4, max_length=4, help_text="x, y, width, height"
    )
    decision = serializers.ChoiceField(choices=[(str(d), str(d)) for d in Decision])
    result = serializers.ChoiceField(choices=[(str(r), str(r)) for r in Result])
    person = PersonNamed(allow_null=True)
    record = RecordMade(required=False, help_text="for checked_in, checked_out and already_checked_in")
    agreement = Agreement(required=False, help_text="for faces the matcher accepted")
    liveness = Liveness(required=False)
    message = serializers.CharField()


class CheckInAnswer(serializers.Serializer):
    faces = FaceAnswer(many=True, help_text="the faces of the last frame, largest first")
    message = serializers.CharField()
    frames = serializers.IntegerField(help_text="frames the request carried")


REPLAYED = OpenApiParameter(
    "Idempotent-Replayed", OpenApiTypes.STR, OpenApiParameter.HEADER, enum=["true"], response=[200, 201]
)


RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429, 503], description="seconds to wait"
)


def _refused(description: str) -> OpenApiResponse:
    return OpenApiResponse(Error, description=description)


class CheckInView(APIView):
    permission_classes = [CanCheckIn]
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = []  # limited by ATTENDANCE["CHECK_IN_RATE"] per device, shared with /api/check-ins

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.body_limit = views.check_in_body_limit  # attendx.body_limits: one burst of photos
        return view

    @extend_schema(
        operation_id="check_ins_create",
        summary="Check in the faces of a frame or a short burst",
        description="As `POST /api/check-ins` (docs/api.md): a person is marked once enough frames agree; "
        "the answer lists the faces of the last frame. Sent only after the records are committed.",
        request={"multipart/form-data": CheckInRequest},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                OpenApiParameter.HEADER,
                description="new for each request; a retry with the same key gets the first answer again "
                "(header Idempotent-Replayed: true) and changes nothing",
            ),
            REPLAYED,
            RETRY_AFTER,
        ],
        responses={
            201: OpenApiResponse(CheckInAnswer, description="at least one face was newly checked in or checked out"),
            200: OpenApiResponse(
                CheckInAnswer, description="already checked in, agreeing, unknown, sent to review, or no face"
            ),
            400: _refused("no image, too many frames, not an image, a bad Idempotency-Key or `session`"),
            401: _refused("not signed in, or a bad device token"),
            403: _refused("not a device or staff account, no CSRF token, or a session the device does not serve"),
            404: _refused("the `session` given does not exist"),
            409: _refused("no session is open for check-in now"),
            411: _refused("a chunked body without Content-Length"),
            413: _refused("a photo or the request is over the size limit"),
            429: _refused("over the device's rate: see Retry-After"),
            503: _refused("face recognition is unavailable: see Retry-After"),
        },
    )
    def post(self, request):
        return views.api_check_in(request._request)


# Check-ins without a face (attendance.fallback): a PIN with the person's username or id, or a QR card.


# PIN and QR attempts share one count per device: a guesser gains nothing by switching.
_limited = method_decorator(
    ratelimit(
        rate=rate_from_setting("ATTENDANCE", "FALLBACK_RATE"),
        key="user",
        group="attendance.fallback",
        store_down="local",
    )
)


class PinCheckInRequest(serializers.Serializer):
    login = serializers.RegexField(
        r"^[\w.@+-]{1,150}$", help_text="the person's username or id (letters, digits and . @ + - _)"
    )
    pin = serializers.CharField(max_length=32, trim_whitespace=False, help_text="the person's check-in PIN")
    session = KeyRelatedField(
        queryset=Session.objects.select_related("group"), required=False, help_text="by default every open session"
    )


class QrCheckInRequest(serializers.Serializer):
    image = serializers.FileField(required=False, help_text="a camera frame showing the card: JPEG, PNG or WebP")
    code = serializers.CharField(
        required=False, max_length=200, help_text="the card's text, from a hardware scanner, instead of `image`"
    )
    session = KeyRelatedField(
        queryset=Session.objects.select_related("group"), required=False, help_text="by default every open session"
    )

    def validate(self, attrs):
        if ("image" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(_("Send either `image` (a camera frame) or `code` (a scanner's text)."))
        return attrs


class FallbackAnswer(serializers.Serializer):
    result = serializers.ChoiceField(
        choices=[(str(result),) * 2 for result in (Result.CHECKED_IN, Result.CHECKED_OUT, Result.ALREADY)]
    )
    person = PersonNamed()
    record = RecordMade()
    message = serializers.CharField()


def _fallback_answer(check_in) -> Response:
    return Response(check_in.to_json(), status=201 if check_in.changed else 200)


def _fallback_refusal(status: int, code: str, detail: str, retry_after: int | None = None) -> Response:
    body = {"error": code, "detail": str(detail)}
    headers = None
    if retry_after is not None:
        body["retry_after"], headers = retry_after, {"Retry-After": str(retry_after)}
    return Response(body, status=status, headers=headers)


def _fallback_check_in(run) -> Response:
    """Run a fallback check-in and answer it, turning the service's refusals into status codes."""
    try:
        return _fallback_answer(run())
    except fallback.NotRecognised as error:
        return _fallback_refusal(400, "not_recognised", error.message)
    except fallback.CredentialLocked as error:
        return _fallback_refusal(429, "locked", error.message, error.retry_after)
    except NoSessionRunning as error:
        return _fallback_refusal(409, "no_session", error.message)
    except fallback.NotExpected as error:
        return _fallback_refusal(409, "not_expected", error.message)
    except SessionNotServed as error:
        return _fallback_refusal(403, "session_not_served", error.message)
    except fallback.NoQrCode as error:
        return _fallback_refusal(400, "no_qr_code", error.message)
    except ImageRejected as error:
        return _fallback_refusal(error.status, error.code, error.message)


FALLBACK_REFUSALS = {
    400: _refused("invalid fields, or `not_recognised`: a wrong PIN, an unknown login or card (one answer for all)"),
    401: _refused("not signed in, or a bad device token"),
    403: _refused("not a device or staff account, no CSRF token, or a session the device does not serve"),
    409: _refused("no session is open now (`no_session`), or the person is on no open session's list"),
    429: _refused("the person's PIN is locked (`locked`) or the device is over its rate: see Retry-After"),
}


class PinCheckInView(APIView):
    permission_classes = [CanCheckIn]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    throttle_classes = []  # limited by ATTENDANCE["FALLBACK_RATE"] per device

    @extend_schema(
        operation_id="check_ins_pin",
        summary="Check a person in by username (or id) and PIN, without a face",
        description="For people who do not consent to face recognition (docs/api.md, *Checking in without a "
        "face*). A wrong PIN and an unknown login get the same answer; after ATTENDANCE_FALLBACK_MAX_FAILURES "
        "wrong PINs the person's PIN is locked for a time that doubles with each further failure.",
        request={"application/json": PinCheckInRequest, "application/x-www-form-urlencoded": PinCheckInRequest},
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(FallbackAnswer, description="checked in now, with method `pin`, or checked out"),
            200: OpenApiResponse(FallbackAnswer, description="already checked in (or out): nothing changed"),
            **FALLBACK_REFUSALS,
        },
    )
    @_limited
    def post(self, request):
        form = PinCheckInRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        return _fallback_check_in(
            lambda: fallback.check_in_by_pin(
                device=request.user, login=data["login"], pin=data["pin"], session=data.get("session")
            )
        )


class QrCheckInView(APIView):
    permission_classes = [CanCheckIn]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    throttle_classes = []  # limited by ATTENDANCE["FALLBACK_RATE"] per device, with the PIN check-ins

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.body_limit = views.check_in_body_limit  # attendx.body_limits: one photo
        return view

    @extend_schema(
        operation_id="check_ins_qr",
        summary="Check a person in by their QR card, without a face",
        description="The card is read from a camera frame (`image`) on the server, or sent as text (`code`) "
        "by a hardware scanner. Only the person's latest card works.",
        request={"multipart/form-data": QrCheckInRequest, "application/json": QrCheckInRequest},
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(FallbackAnswer, description="checked in now, with method `qr`, or checked out"),
            200: OpenApiResponse(FallbackAnswer, description="already checked in (or out): nothing changed"),
            **FALLBACK_REFUSALS,
            400: _refused("invalid fields, not an image, `no_qr_code` in the frame, or `not_recognised`"),
            413: _refused("the photo is over the size limit"),
        },
    )
    @_limited
    def post(self, request):
        form = QrCheckInRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data

        def run():
            code = data.get("code")
            if code is None:
                upload = data["image"]
                if upload.size > settings.FACES["MAX_UPLOAD_BYTES"]:
                    raise ImageRejected(_("The photo is over the size limit."), status=413, code="too_large")
                image = decode_upload(upload.read(), filename=upload.name, frame=True)
                code = fallback.read_qr_code(image=image)
            return fallback.check_in_by_qr(device=request.user, code=code, session=data.get("session"))

        return _fallback_check_in(run)
