"""Bulk setup pages: import people and groups from a CSV file (accounts.importing)."""

from django.http import HttpResponse

from accounts.decorators import staff_required


@staff_required
def import_people(request):
    return HttpResponse("Not built yet.")  # placeholder: replaced by the import page
