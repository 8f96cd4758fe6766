"""The viewset every editable resource of /api/v1/ is: list, create, read, replace and change, saved
atomically, looked up by a key of the database's shape; never deleted (attendance records are evidence)."""

from rest_framework import mixins, viewsets

from attendx.api.errors import SavesAtomically
from attendx.api.fields import KeyLookup


class EditableViewSet(
    SavesAtomically,
    KeyLookup,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, create, read, replace and change; never delete: attendance records are evidence."""
