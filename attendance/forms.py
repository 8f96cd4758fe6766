from django import forms

from attendance.models import Group, Status


class CheckInForm(forms.Form):
    image = forms.FileField()
    session = forms.CharField(required=False)


class ManualMarkForm(forms.Form):
    person = forms.CharField()
    status = forms.ChoiceField(choices=[*Status.choices, ("unmark", "Not marked")])
    note = forms.CharField(required=False, max_length=200)


class ExportForm(forms.Form):
    group = forms.ModelChoiceField(queryset=Group.objects.all(), required=False, empty_label="All groups")
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date must come before the end date.")
        if start and end and (end - start).days > 366:
            raise forms.ValidationError("Export at most one year at a time.")
        return cleaned


class ChartRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
