"""Bulk setup pages: import people and groups from a CSV file (accounts.importing). An upload is only
checked, and its report shown; the report page sends the same text back to import it."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import importing
from accounts.decorators import staff_required
from accounts.import_forms import ImportConfirmForm, ImportUploadForm, too_large


def _page(request, *, upload_form=None, refusal="", plan=None, text="", status=200):
    context = {
        "upload_form": upload_form or ImportUploadForm(),
        "refusal": refusal,
        "plan": plan,
        "confirm_form": ImportConfirmForm(initial={"csv": text}) if plan and not plan.has_errors else None,
        "columns": importing.COLUMNS,
        "max_mb": importing.MAX_BYTES // (1024 * 1024),
        "max_rows": importing.MAX_ROWS,
    }
    return render(request, "accounts/import_people.html", context, status=status)


def _refused(request, error: importing.ImportRefused):
    status = 413 if isinstance(error, importing.ImportTooLarge) else 400
    return _page(request, refusal=error.message, status=status)


@staff_required
def import_people(request):
    if request.method != "POST":
        return _page(request)
    if "csv" in request.POST:
        return _import(request)
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, upload_form=form, status=413 if too_large(form) else 400)
    text = form.cleaned_data["text"]
    try:
        plan = importing.plan_import(text=text, by=request.user)
    except importing.ImportRefused as error:
        return _refused(request, error)
    return _page(request, plan=plan, text=text, status=400 if plan.has_errors else 200)


def _import(request):
    form = ImportConfirmForm(request.POST)
    if not form.is_valid():
        refusal = " ".join(error for errors in form.errors.values() for error in errors)
        return _page(request, refusal=refusal, status=413 if too_large(form) else 400)
    text = form.cleaned_data["csv"]
    try:
        result = importing.apply_import(text=text, by=request.user)
    except importing.ImportRefused as error:
        return _refused(request, error)
    if not result.applied:
        messages.error(request, _("The file no longer imports cleanly: nothing was imported. See the rows below."))
        return _page(request, plan=result.plan, text=text, status=400)
    messages.success(
        request,
        _(
            "Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged; "
            "new groups: %(groups)d. Memberships were added, none removed."
        )
        % {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "groups": result.groups_created,
        },
    )
    return redirect("accounts:import-people")


@staff_required
@require_GET
def import_template(request):
    response = HttpResponse("\ufeff" + importing.TEMPLATE, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    return response
