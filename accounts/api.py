"""People in the JSON API (/api/v1/people): the members that attend, for staff to list, add and edit.

Only accounts with the role member are people here; staff and devices are managed in the admin.
"""

from django.db.models import Count
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role, User
from attendance.models import Group
from attendx.api.fields import KeyField, KeyRelatedField
from attendx.api.querysets import prefetched
from attendx.api.schema import KEY_IN_PATH, documented_lookup
from attendx.api.viewsets import EditableViewSet
from faces.erasure import erase_biometrics


class PersonSerializer(serializers.ModelSerializer):
    id = KeyField()
    role = serializers.CharField(read_only=True, help_text="always member: staff and devices are not people here")
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True, max_length=254)
    groups = KeyRelatedField(
        many=True,
        required=False,
        source="attendance_groups",
        queryset=Group.objects.all(),
        help_text="the ids of the groups the person belongs to",
    )
    is_enrolled = serializers.SerializerMethodField(help_text="whether any face photo of the person is enrolled")

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "groups", "is_enrolled"]

    def get_is_enrolled(self, person) -> bool:
        count = getattr(person, "face_sample_count", None)
        return person.face_samples.exists() if count is None else count > 0

    def validate_email(self, value):
        email = value.strip().lower() if value else None
        if email and User.objects.filter(email=email).exclude(pk=getattr(self.instance, "pk", None)).exists():
            raise serializers.ValidationError(_("Somebody has this email address already."))
        return email

    def create(self, validated_data):
        person = super().create({**validated_data, "role": Role.MEMBER})
        # People are attendees: many never sign in. A password is set from the admin when needed.
        person.set_unusable_password()
        person.save(update_fields=["password"])
        return person


@documented_lookup
class PersonViewSet(EditableViewSet):
    """Members, by last name, first name and username. No DELETE: their attendance records are evidence."""

    serializer_class = PersonSerializer
    queryset = User.objects.members()

    def get_queryset(self):
        people = User.objects.members().annotate(face_sample_count=Count("face_samples"))
        return prefetched(people, "attendance_groups").order_by("last_name", "first_name", "username", "pk")

    @extend_schema(
        request=None,
        parameters=[KEY_IN_PATH],
        responses=inline_serializer(
            "Erased",
            {
                name: serializers.IntegerField()
                for name in (
                    "samples",
                    "evidence_crops",
                    "review_frames",
                    "not_live_crops",
                    "files",
                    "consents_withdrawn",
                    "cache_keys",
                )
            }
            | {"cache_purge_pending": serializers.BooleanField()},
        ),
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        """Erase the person's biometric data (faces.erasure); the person and their records stay."""
        person = self.get_object()
        erased = erase_biometrics(person=person, by=request.user, reason="API request")
        return Response(erased.as_dict())
