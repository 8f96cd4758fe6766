"""Private storage for face photos: on disk under MEDIA_ROOT, encrypted (faces.crypto), with no public URL.

Nothing serves MEDIA_ROOT; staff see a photo only through ``faces:sample-image``, which checks who
is asking. ``open()`` hands back the plaintext, also of files written before encryption.
"""

import io
import mimetypes
import os
import re
from pathlib import Path, PurePosixPath

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from faces import crypto

UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


class PrivateFaceStorage(FileSystemStorage):
    def __init__(self, **kwargs):
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)

    def _save(self, name, content):
        return super()._save(name, ContentFile(crypto.encrypt(b"".join(content.chunks()))))

    def _open(self, name, mode="rb"):
        if mode not in ("r", "rb"):
            raise ValueError("Face files are written only through save(); open them for reading.")
        return DecryptedFile(self, name)

    def stored_bytes(self, name) -> bytes:
        """The bytes on disk: a Fernet token, or a plain file from before encryption."""
        with super()._open(name, "rb") as handle:
            return handle.read()

    def replace_stored_bytes(self, name, data: bytes) -> None:
        """Swap a file's bytes for ``data`` (key rotation) through a temporary file renamed over it."""
        path = Path(self.path(name))
        temporary = path.with_name(f".{path.name}.{os.getpid()}.rotating")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_permissions_mode or 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)

    def walk(self, folder: str = ""):
        """Every stored file's name, folder by folder."""
        if not self.exists(folder):
            return
        folders, files = self.listdir(folder)
        for name in files:
            if not name.startswith("."):  # a rotation's temporary file
                yield f"{folder}/{name}" if folder else name
        for child in folders:
            yield from self.walk(f"{folder}/{child}" if folder else child)

    def read_plain(self, name) -> bytes:
        return crypto.reveal(self.stored_bytes(name))

    def size(self, name):
        return len(self.read_plain(name))

    def url(self, name):
        raise NotImplementedError("Face photos have no public URL; use the faces:sample-image view.")


class DecryptedFile(File):
    """A face file's plaintext in memory; opened again after closing, it is read and decrypted again."""

    def __init__(self, storage: PrivateFaceStorage, name: str):
        self._storage = storage
        super().__init__(io.BytesIO(storage.read_plain(name)), name=name)

    def open(self, mode=None):
        if self.closed:
            self.file = io.BytesIO(self._storage.read_plain(self.name))
        else:
            self.seek(0)
        return self


def private_face_storage():
    return PrivateFaceStorage()


def private_file_response(field_file, content_type: str | None = None):
    """Stream a privately stored file to a user a view has already checked: never cached, never sniffed.

    Shown inline under a safe name, sandboxed, and not embeddable by other sites: should a stored file
    ever carry markup, a browser opening it directly runs nothing.
    404 when the row names no file (no photo kept: FACES_KEEP_PHOTOS off), or a file that is gone from the
    disk; 503 when no configured key decrypts it.
    """
    from django.http import FileResponse, Http404, HttpResponse

    if not field_file.name:
        raise Http404("No photo kept.")
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    except crypto.FaceDataUnreadable as error:
        return HttpResponse(error.message, status=503, content_type="text/plain; charset=utf-8")
    content_type = content_type or mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    safe_name = UNSAFE_FILENAME_CHARACTERS.sub("_", PurePosixPath(field_file.name).name)
    response = FileResponse(handle, content_type=content_type, filename=safe_name)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
