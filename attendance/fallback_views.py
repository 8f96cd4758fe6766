"""Staff pages for check-in without a face: set a person's check-in PIN, issue (and print) a QR card.

The card's code is shown once, on the answer to the POST that issued it: only its digest is stored.
"""

import segno
from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from accounts.decorators import staff_required
from attendance import fallback
from attendance.selectors import credential_holders, credential_state
from attendx.forms import error_text


class PinForm(forms.Form):
    pin = forms.RegexField(
        regex=fallback.PIN_PATTERN,
        max_length=8,
        label=gettext_lazy("New check-in PIN"),
        error_messages={"invalid": fallback.InvalidPin.message},
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )


def _person(person_id):
    return get_object_or_404(credential_holders(), pk=person_id)


@never_cache
@staff_required
def credential(request, person_id):
    """The person's PIN and card: whether set, whether locked; POST ``action`` = ``pin`` or ``qr``."""
    person = _person(person_id)
    form = PinForm()
    status = 200
    if request.method == "POST" and request.POST.get("action") == "qr":
        code = fallback.issue_qr(person=person, by=request.user)
        card = segno.make(code, error="m").svg_inline(scale=8, border=4)
        return render(request, "attendance/qr_card.html", {"person": person, "card": card})
    if request.method == "POST":
        form = PinForm(request.POST)
        if form.is_valid():
            fallback.set_pin(person=person, pin=form.cleaned_data["pin"], by=request.user)
            done = _("The check-in PIN of %(person)s is set. Tell them in person.") % {"person": person}
            messages.success(request, done)
            return redirect("attendance:check-in-credential", person_id=person.pk)
        messages.error(request, error_text(form))
        status = 400
    state = credential_state(person)
    context = {"person": person, "form": form, "held": state.held, "locked": state.locked}
    return render(request, "attendance/check_in_credential.html", context, status=status)
