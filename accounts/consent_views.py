"""Consent and access-request pages. A member reads the text in force and agrees on screen (as
themselves or as a guardian), withdraws, and downloads their data; staff record a signed paper form,
withdraw for a person and download anyone's data from the person's enroll page."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import access_archive
from accounts.consent import ConsentRefused, current_consent, record_consent, text_in_force, withdraw_consent
from accounts.consent_forms import PaperConsentForm, ScreenConsentForm, WithdrawConsentForm
from accounts.decorators import staff_required
from accounts.models import ConsentGiver, ConsentMethod, Role
from attendx.forms import error_text
from faces.crypto import FaceDataUnreadable


def _not_a_kiosk(request):
    if request.user.is_kiosk:
        raise PermissionDenied


def _person(person_id):
    return get_object_or_404(get_user_model().objects.exclude(role=Role.KIOSK), pk=person_id)


@require_http_methods(["GET", "POST"])
def consent_self(request):
    """The text in force and the agreement form; once agreed, on to the enroll page."""
    _not_a_kiosk(request)
    person, text = request.user, text_in_force()
    form = ScreenConsentForm(request.POST or None, initial={"version": text.version if text else None})
    context = {"text": text, "form": form, "consent": current_consent(person), "person": person}
    if request.method == "GET":
        return render(request, "accounts/consent_self.html", context)
    if text is None:
        return render(request, "accounts/consent_self.html", context, status=409)
    if not form.is_valid():
        messages.error(request, error_text(form))
        return render(request, "accounts/consent_self.html", context, status=400)
    if form.cleaned_data["version"] != text.version:
        messages.error(request, _("The consent text changed while you were reading it: please read this version."))
        return render(request, "accounts/consent_self.html", context, status=409)
    by_guardian = form.cleaned_data["given_by"] == ConsentGiver.GUARDIAN
    try:
        record_consent(
            person=person,
            given_by=form.cleaned_data["given_by"],
            giver_name=form.cleaned_data["giver_name"] if by_guardian else str(person),
            method=ConsentMethod.SCREEN,
            recorded_by=person,
            text=text,
        )
    except ConsentRefused as error:
        messages.info(request, error.message)
        return redirect("faces:enroll-self")
    thanks = _("Thank you: your consent to version %(version)s is recorded.") % {"version": text.version}
    messages.success(request, thanks)
    return redirect("faces:enroll-self")


@staff_required
@require_POST
def consent_paper(request, person_id):
    """Staff attest that a signed paper form is on file; it is recorded under their name."""
    person = _person(person_id)
    form = PaperConsentForm(request.POST)
    back = redirect("faces:enroll-person", person_id=person.pk)
    if not form.is_valid():
        messages.error(request, error_text(form))
        return back
    try:
        record_consent(
            person=person,
            given_by=form.cleaned_data["given_by"],
            giver_name=form.cleaned_data["giver_name"],
            method=ConsentMethod.PAPER,
            recorded_by=request.user,
        )
    except ConsentRefused as error:
        messages.error(request, error.message)
        return back
    messages.success(
        request,
        _("A signed paper consent of %(person)s is recorded, by %(staff)s.")
        % {"person": person, "staff": request.user},
    )
    return back


def _withdraw_page(request, person, *, back_url):
    form = WithdrawConsentForm(request.POST or None)
    context = {"person": person, "form": form, "back_url": back_url, "self_service": person == request.user}
    if request.method == "GET":
        return render(request, "accounts/consent_withdraw.html", context)
    if not form.is_valid():
        messages.error(request, _("Tick the box to confirm: the face photos are erased at once."))
        return render(request, "accounts/consent_withdraw.html", context, status=400)
    try:
        withdraw_consent(person=person, by=request.user)
    except ConsentRefused as error:
        messages.error(request, error.message)
        return render(request, "accounts/consent_withdraw.html", context, status=409)
    messages.success(
        request, _("Consent withdrawn: the face photos and templates of %(person)s are erased.") % {"person": person}
    )
    return redirect(back_url)


@require_http_methods(["GET", "POST"])
def withdraw_self(request):
    _not_a_kiosk(request)
    return _withdraw_page(request, request.user, back_url=reverse("accounts:consent"))


@staff_required
@require_http_methods(["GET", "POST"])
def withdraw_person(request, person_id):
    person = _person(person_id)
    return _withdraw_page(request, person, back_url=reverse("faces:enroll-person", args=[person.pk]))


def _archive_response(request, person):
    try:
        data = access_archive(person=person, by=request.user)
    except FaceDataUnreadable as error:  # a key missing from FACES_ENCRYPTION_KEYS: say so, never a 500
        response = HttpResponse(str(error), content_type="text/plain; charset=utf-8", status=503)
        response["Retry-After"] = "300"
        return response
    response = HttpResponse(data, content_type="application/zip")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in person.username)
    response["Content-Disposition"] = f'attachment; filename="attendx-data-{safe}.zip"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@require_GET
def my_data(request):
    """Everything held about the signed-in person, as a zip (accounts.access)."""
    _not_a_kiosk(request)
    return _archive_response(request, request.user)


@never_cache
@staff_required
@require_GET
def person_data(request, person_id):
    return _archive_response(request, _person(person_id))
