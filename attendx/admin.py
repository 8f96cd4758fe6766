"""What every admin page of ours shares: bounded search, and the admin's "view on site" link checked
for key shapes (a MongoDB ObjectId lookup of "abc" raises instead of finding nothing)."""

from django.contrib import admin
from django.contrib.contenttypes.views import shortcut
from django.http import Http404

from attendx.keys import is_key

# Each search term becomes a regular expression per searched field on MongoDB, whose servers cap its length.
SEARCH_MAX_CHARS = 100


class BoundedSearchMixin:
    """Admin searches use at most SEARCH_MAX_CHARS characters of what was typed."""

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term[:SEARCH_MAX_CHARS])


class ReadOnlyMixin:
    """An admin that shows rows and never adds, changes or deletes them (audit rows, consent records)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _view_on_site(request, content_type_id, object_id):
    if not (is_key(content_type_id) and is_key(object_id)):
        raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)


# Served at admin/r/<content type>/<object>/ in place of the admin's own, which it wraps.
view_on_site = admin.site.admin_view(_view_on_site)
