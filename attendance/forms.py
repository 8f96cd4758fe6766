from datetime import datetime, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from attendance.models import AbsenceReason, Group, Session, Status, WebhookEvent
from attendx.forms import DayField, ModelKeyField


class CheckInForm(forms.Form):
    image = forms.FileField(label=gettext_lazy("Image"))
    session = ModelKeyField(
        queryset=Session.objects.select_related("group"), required=False, label=gettext_lazy("Session")
    )


UNMARK = "unmark"  # the roster's status choice that takes a person's mark away


class ManualMarkForm(forms.Form):
    """A mark by hand on ``session``'s roster. Excused and absent need a reason (by its code), which present
    and late drop; the arrival is a time of day on the session's date, in the organisation's time zone.
    Whether reason and status fit together is attendance.services.mark_manually's to say."""

    NEEDS_REASON = (Status.EXCUSED, Status.ABSENT)

    person = ModelKeyField(queryset=get_user_model().objects.all(), label=gettext_lazy("Person"))
    status = forms.ChoiceField(
        choices=[*Status.choices, (UNMARK, gettext_lazy("Not marked"))], label=gettext_lazy("Status")
    )
    reason = forms.ModelChoiceField(
        queryset=AbsenceReason.objects.filter(is_active=True),
        to_field_name="code",
        required=False,
        label=gettext_lazy("Reason"),
    )
    note = forms.CharField(required=False, max_length=200, label=gettext_lazy("Note"))
    arrived_at = forms.TimeField(
        required=False, label=gettext_lazy("Arrived at"), widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        if status in self.NEEDS_REASON and cleaned.get("reason") is None and "reason" not in self.errors:
            missing = forms.ValidationError(_("Choose a reason for an excused or absent mark."), code="required")
            self.add_error("reason", missing)
        if status not in self.NEEDS_REASON:
            cleaned["reason"] = None
        if cleaned.get("arrived_at") is not None:
            day = timezone.localtime(self.session.starts_at).date()
            cleaned["arrived_at"] = timezone.make_aware(datetime.combine(day, cleaned["arrived_at"]))
        return cleaned


class DayRangeForm(forms.Form):
    """From ``start`` to ``end``, both included, at most about a year."""

    MAX_DAYS = 366
    too_long = gettext_lazy("Choose at most one year at a time.")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must come before the end date."), code="reversed")
        if start and end and (end - start).days > self.MAX_DAYS:
            raise forms.ValidationError(self.too_long, code="too_long")
        return cleaned


class ExportForm(DayRangeForm):
    group = ModelKeyField(
        queryset=Group.objects.all(),
        required=False,
        empty_label=gettext_lazy("All groups"),
        label=gettext_lazy("Group"),
    )
    start = DayField(label=gettext_lazy("Start"))
    end = DayField(label=gettext_lazy("End"))
    too_long = gettext_lazy("Export at most one year at a time.")


class ChartRangeForm(DayRangeForm):
    """The days of a group's chart; by default the last DEFAULT_DAYS days up to today."""

    DEFAULT_DAYS = 30
    start = DayField(required=False, label=gettext_lazy("Start"))
    end = DayField(required=False, label=gettext_lazy("End"))

    def clean(self):
        cleaned = self.cleaned_data
        if "end" in cleaned and cleaned["end"] is None:
            cleaned["end"] = timezone.localdate()
        if "start" in cleaned and cleaned["start"] is None and cleaned.get("end"):
            cleaned["start"] = cleaned["end"] - timedelta(days=self.DEFAULT_DAYS - 1)
        return super().clean()


class WebURLField(forms.URLField):
    """An http or https URL only: never ftp:, javascript: or file:."""

    default_validators = [URLValidator(schemes=["http", "https"])]

    def __init__(self, **kwargs):
        super().__init__(assume_scheme="https", **kwargs)


class WebhookEndpointForm(forms.Form):
    url = WebURLField(label=gettext_lazy("URL"), max_length=500)
    description = forms.CharField(required=False, max_length=200, label=gettext_lazy("Description"))
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=WebhookEvent.values,
        label=gettext_lazy("Events"),
    )


class WebhookActiveForm(forms.Form):
    active = forms.TypedChoiceField(
        choices=[("1", gettext_lazy("Active")), ("0", gettext_lazy("Paused"))],
        coerce=lambda value: value == "1",
        label=gettext_lazy("Active"),
    )
