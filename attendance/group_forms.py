"""Staff forms of the group pages: a group and its notification settings, its members, a session, a
weekly timetable entry, a holiday. Writes are attendance.groups' and attendance.timetables'."""

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import STAFF_ROLES
from attendance.groups import eligible_members
from attendance.models import Weekday
from attendx.forms import DayField, ModelKeyField, ModelKeysField

LONGEST_SESSION = timedelta(hours=24)
MOST_LATE_MINUTES = 240


class GroupForm(forms.Form):
    """A group's name, description and notifications; its owner only for administrators (``choose_owner``)."""

    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = ModelKeyField(
        label=_("Owner"),
        queryset=get_user_model().objects.all(),
        help_text=_("the teacher or manager who runs it"),
    )
    notify_absent = forms.BooleanField(label=_("Email the guardian or manager when a member is absent"), required=False)
    notify_late = forms.BooleanField(label=_("Email the guardian or manager when a member is late"), required=False)
    rate_alert_below = forms.IntegerField(
        label=_("Alert below (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("email the owner when a member's attendance rate falls below this; blank: no alert"),
    )

    def __init__(self, *args, choose_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_owner:
            del self.fields["owner"]

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        # Someone who exists but cannot run a group: bad input (400), not a missing page.
        if not (owner.is_active and owner.role in STAFF_ROLES):
            raise ValidationError(_("Only active staff or administrators can run a group."), code="not_staff")
        return owner


class MembersForm(forms.Form):
    """Add people to a group (only eligible members) or remove some of its members."""

    action = forms.ChoiceField(label=_("Action"), choices=[("add", _("Add")), ("remove", _("Remove"))])
    people = ModelKeysField(
        label=_("People"),
        queryset=eligible_members(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Choose at least one person."),
            "invalid_choice": _("Only active people with the member role can join a group."),
        },
    )

    def __init__(self, *args, group, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get("action") == "remove":
            self.fields["people"].queryset = group.members.all()
            self.fields["people"].error_messages["invalid_choice"] = _("That person is not a member of this group.")


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time in the years DayField allows: arithmetic on it cannot overflow."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not DayField.FIRST <= timezone.localtime(value).date() <= DayField.LAST:
            message = _("Choose a day from %(first)s to %(last)s.")
            params = {"first": DayField.FIRST.isoformat(), "last": DayField.LAST.isoformat()}
            raise ValidationError(message, code="out_of_range", params=params)
        return value


class SessionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=160)
    starts_at = BoundedDateTimeField(label=_("Starts at"))
    ends_at = BoundedDateTimeField(label=_("Ends at"))
    late_after_minutes = forms.IntegerField(
        label=_("Late after (minutes)"), min_value=0, max_value=MOST_LATE_MINUTES, initial=10
    )
    location = forms.CharField(label=_("Location"), required=False, max_length=120)

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", ValidationError(_("A session ends after it starts."), code="reversed"))
        elif starts and ends and ends - starts > LONGEST_SESSION:
            self.add_error("ends_at", ValidationError(_("A session lasts at most 24 hours."), code="too_long"))
        return cleaned


class TimetableForm(forms.Form):
    """A weekly lesson or shift of a group within a term."""

    title = forms.CharField(label=_("Title"), max_length=160)
    weekday = forms.TypedChoiceField(label=_("Weekday"), choices=Weekday.choices, coerce=int)
    starts_at = forms.TimeField(label=_("Starts at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    ends_at = forms.TimeField(label=_("Ends at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    location = forms.CharField(label=_("Location"), required=False, max_length=120)
    late_after_minutes = forms.IntegerField(
        label=_("Late after (minutes)"), min_value=0, max_value=MOST_LATE_MINUTES, initial=10
    )
    first_day = DayField(label=_("Term starts"))
    last_day = DayField(label=_("Term ends"))

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", ValidationError(_("A lesson ends after it starts."), code="reversed"))
        first, last = cleaned.get("first_day"), cleaned.get("last_day")
        if first and last and last < first:
            message = _("The term ends on or after the day it starts.")
            self.add_error("last_day", ValidationError(message, code="reversed"))
        return cleaned


class HolidayForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    first_day = DayField(label=_("First day"))
    last_day = DayField(label=_("Last day"))

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first_day"), cleaned.get("last_day")
        if first and last and last < first:
            message = _("A holiday ends on or after its first day.")
            self.add_error("last_day", ValidationError(message, code="reversed"))
        return cleaned
