"""The printable pages: a group's register for one ISO week and a person's report over a range of days.

Both print on A4 (attendance/static/attendance/print.css); their reads are in attendance.registers.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.decorators import staff_required
from attendance import registers
from attendance.charts import daily_rate_chart
from attendance.selectors import people, visible_groups
from attendx.forms import DayField, error_status, error_text

REGISTER_CHART = {"width": 520, "height": 170}  # beside the legend at the foot of a landscape page
REPORT_CHART = {"width": 720, "height": 200}


class WeekField(forms.CharField):
    """An ISO week, "2026-W49", as a registers.IsoWeek; None when empty."""

    default_error_messages = {
        "invalid": gettext_lazy("Give the week as a year and an ISO week number, such as 2026-W49."),
    }

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return registers.IsoWeek.parse(value)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class RegisterWeekForm(forms.Form):
    """``?week=``; this week by default."""

    week = WeekField(required=False, label=gettext_lazy("Week"))

    def clean_week(self):
        return self.cleaned_data["week"] or registers.IsoWeek.of(timezone.localdate())


class ReportRangeForm(forms.Form):
    """``?from=`` and ``?to=``, both included; by default the last DEFAULT_DAYS days up to today."""

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the fields are added by name.
        self.fields["from"] = DayField(required=False, label=_("From"))
        self.fields["to"] = DayField(required=False, label=_("To"))

    def clean(self):
        cleaned = super().clean()
        if "from" not in cleaned or "to" not in cleaned:
            return cleaned  # a field's own error says what was wrong
        end = cleaned["to"] or timezone.localdate()
        start = cleaned["from"] or end - timedelta(days=self.DEFAULT_DAYS - 1)
        if start > end:
            raise ValidationError(_("The first day must come before the last day."), code="reversed")
        if (end - start).days > self.MAX_DAYS:
            raise ValidationError(_("Choose at most one year at a time."), code="too_long")
        cleaned["from"], cleaned["to"] = start, end
        return cleaned


def _refused(request, template: str, form, context: dict):
    messages.error(request, error_text(form))
    return render(request, template, context, status=error_status(form))


@staff_required
def group_register(request, group_id):
    group = get_object_or_404(visible_groups(request.user), pk=group_id)
    form = RegisterWeekForm(request.GET)
    if not form.is_valid():
        return _refused(request, "attendance/register_week.html", form, {"group": group})
    register = registers.week_register(group, form.cleaned_data["week"])
    context = {"group": group, "register": register, "chart": daily_rate_chart(register.days, **REGISTER_CHART)}
    return render(request, "attendance/register_week.html", context)


def _report_page(request, person):
    form = ReportRangeForm(request.GET)
    if not form.is_valid():
        return _refused(request, "attendance/person_report.html", form, {"person": person})
    report = registers.person_report(person, start=form.cleaned_data["from"], end=form.cleaned_data["to"])
    context = {"person": person, "report": report, "chart": daily_rate_chart(report.days, **REPORT_CHART)}
    return render(request, "attendance/person_report.html", context)


@staff_required
def person_report(request, person_id):
    return _report_page(request, get_object_or_404(people(), pk=person_id))


def my_report(request):
    return _report_page(request, request.user)
