"""Private storage for face photos: on disk under MEDIA_ROOT, with no public URL.

Nothing serves MEDIA_ROOT; staff see a photo only through ``faces:sample-image``, which checks who
is asking.
"""

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
