"""Forms of the consent pages: agreeing on screen (as oneself or as a guardian), staff recording a signed
paper form, and the confirmation that withdrawing consent erases the face photos."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import ConsentGiver


class _GiverMixin:
    def clean(self):
        data = super().clean()
        if data.get("given_by") == ConsentGiver.GUARDIAN and not (data.get("giver_name") or "").strip():
            raise ValidationError(gettext("Give the parent's or guardian's name."), code="required")
        return data


class ScreenConsentForm(_GiverMixin, forms.Form):
    """The person agrees to the text of ``version``; a guardian agrees for a minor and gives a name."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    given_by = forms.ChoiceField(choices=ConsentGiver.choices, initial=ConsentGiver.PERSON, label=_("I agree as"))
    giver_name = forms.CharField(max_length=160, required=False, label=_("Guardian's full name"))
    agree = forms.BooleanField(label=_("I have read this text and I agree to it"))


class PaperConsentForm(_GiverMixin, forms.Form):
    """Staff attest that a signed paper form is on file: who signed it, and their name."""

    given_by = forms.ChoiceField(choices=ConsentGiver.choices, initial=ConsentGiver.PERSON, label=_("Signed by"))
    giver_name = forms.CharField(max_length=160, label=_("Name of who signed"))


class WithdrawConsentForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, withdraw consent and erase the face photos now"))
