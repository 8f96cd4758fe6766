"""Ids of either database's shape (SQLite integers, MongoDB ObjectIds), always strings in JSON; days and
times within the years day arithmetic is safe in; query strings validated as serializers."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from attendx.forms import DayField, key_from
from attendx.keys import ANY_KEY, is_key

KEY_PATTERN = f"^(?:{ANY_KEY})$"
KEY_SCHEMA = {"type": "string", "pattern": KEY_PATTERN, "example": "17"}


@extend_schema_field(KEY_SCHEMA)
class KeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Another object by its id (attendx.forms.key_from): an id of the wrong shape is refused before any
    query, so the database never sees "abc" or a 20-digit number. Both refusals are 400s."""

    default_error_messages = {
        "does_not_exist": _("No such object: {pk_value}."),
        "incorrect_type": _("Not a valid id."),
    }

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            key = key_from(data, using=queryset.db)
        except DjangoValidationError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            return queryset.get(pk=key)
        except ObjectDoesNotExist:
            self.fail("does_not_exist", pk_value=key)

    def to_representation(self, value):
        return str(value.pk)


@extend_schema_field(KEY_SCHEMA)
class KeyField(serializers.CharField):
    """An id, read only, as a string (null stays null)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class Day(serializers.DateField):
    """A calendar day within attendx.forms.DayField's years: a range's end + 1 cannot overflow."""

    default_error_messages = {"out_of_range": _("Choose a day from {first} to {last}.")}

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not DayField.FIRST <= day <= DayField.LAST:
            self.fail("out_of_range", first=DayField.FIRST.isoformat(), last=DayField.LAST.isoformat())
        return day


class Moment(serializers.DateTimeField):
    """A time with its zone (a naive one is the organisation's), in DayField's years."""

    default_error_messages = {"out_of_range": _("Choose a time from {first} to {last}.")}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not DayField.FIRST.year <= moment.year <= DayField.LAST.year:
            self.fail("out_of_range", first=DayField.FIRST.isoformat(), last=DayField.LAST.isoformat())
        return moment


class DayRange(serializers.Serializer):
    """``from`` and ``to``: days, both included, in the organisation's time zone."""

    def get_fields(self):
        # `from` is a Python keyword: it cannot be a class attribute.
        return {
            "from": Day(required=False, help_text="the first day, included (YYYY-MM-DD, the organisation's time zone)"),
            "to": Day(required=False, help_text="the last day, included"),
            **super().get_fields(),
        }

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": gettext("`to` must not come before `from`.")})
        return attrs


def filters_from(serializer_class, request) -> dict:
    """The query string validated by ``serializer_class``; a 400 with its errors otherwise."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class KeyLookup:
    """A viewset mixin: a URL id of the wrong shape names nothing (404), and never reaches a query."""

    lookup_value_regex = "[^/]+"

    def get_object(self):
        if not is_key(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""), self.get_queryset().db):
            raise exceptions.NotFound()
        return super().get_object()
