"""Private storage for face photos: on disk under MEDIA_ROOT, with no public URL.

Nothing serves MEDIA_ROOT; staff see a photo only through ``faces:sample-image``, which checks who
is asking.
"""

import mimetypes

from django.core.files.storage import FileSystemStorage


class PrivateFaceStorage(FileSystemStorage):
    def __init__(self, **kwargs):
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)

    def url(self, name):
        raise NotImplementedError("Face photos have no public URL; use the faces:sample-image view.")


def private_face_storage():
    return PrivateFaceStorage()


def private_file_response(field_file, content_type: str | None = None):
    """Stream a privately stored file to a user a view has already checked: never cached, never sniffed."""
    from django.http import FileResponse

    content_type = content_type or mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    response = FileResponse(field_file.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
