from attendx.keys import uses_object_ids


def prefetched(queryset, *lookups):
    """``queryset.prefetch_related(*lookups)`` where the database can: django-mongodb-backend cannot, and
    there each object's related objects are one query more (a page holds at most 200)."""
    return queryset if uses_object_ids(queryset.db) else queryset.prefetch_related(*lookups)


def joined(queryset, *lookups):
    """``queryset.select_related(*lookups)`` where it is safe. On MongoDB (django-mongodb-backend 5.2.4) a
    select_related model that the ordering also joins comes back missing (RelatedObjectDoesNotExist), so
    there related objects are fetched one query each instead."""
    queryset = queryset.select_related(None)
    return queryset if uses_object_ids(queryset.db) else queryset.select_related(*lookups)
