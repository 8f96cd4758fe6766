"""Private storage for face photos: on disk under MEDIA_ROOT, with no public URL.

Nothing serves MEDIA_ROOT; staff see a photo only through ``faces:sample-image``, which checks who
is asking.
"""

import mimetypes
import re
from pathlib import PurePosixPath

from django.core.files.storage import FileSystemStorage

UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


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
    """Stream a privately stored file to a user a view has already checked: never cached, never sniffed.

    Shown inline under a safe name, sandboxed, and not embeddable by other sites: should a stored file
    ever carry markup, a browser opening it directly runs nothing.
    404 when the row names no file, or a file that is gone from the disk.
    """
    from django.http import FileResponse, Http404

    if not field_file.name:
        raise Http404("No file.")
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    content_type = content_type or mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    safe_name = UNSAFE_FILENAME_CHARACTERS.sub("_", PurePosixPath(field_file.name).name)
    response = FileResponse(handle, content_type=content_type, filename=safe_name)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
