"""Encryption at rest for face templates and photos: a MultiFernet of ``settings.FACES_ENCRYPTION_KEYS``
(the first key encrypts, every key decrypts), so a copied database or media folder holds no usable face.

The keys live outside the database: in the environment, or, for local runs and tests only
(``FACES_ENCRYPTION_KEY_FILE``), in a file under var/ created on first use and readable by its owner alone.
"""

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from faces.exceptions import RecognitionUnavailable

# Every Fernet token starts with version byte 0x80 and a 64-bit timestamp whose top bytes stay zero until
# 2106; no JPEG, PNG, WebP or float32 unit vector starts with these bytes.
TOKEN_PREFIX = b"gAAAAA"
GENERATE_COMMAND = "python manage.py generate_face_key"
SETTINGS = ("FACES_ENCRYPTION_KEYS", "FACES_ENCRYPTION_KEY_FILE")

_lock = threading.Lock()
_fernet: dict = {"instance": None, "first": None}


class FaceDataUnreadable(RecognitionUnavailable):
    """Stored face data that no configured key decrypts (FACES_ENCRYPTION_KEYS lost a key): a 503 like
    any recognition outage, never a garbage vector."""

    def __init__(self):
        super().__init__(
            "Stored face data cannot be decrypted with FACES_ENCRYPTION_KEYS: a key it was written with "
            "is missing from the setting."
        )


def configured_keys() -> list[bytes]:
    """The keys, newest first: FACES_ENCRYPTION_KEYS (a list or a comma-separated string), else the key file."""
    keys = settings.FACES_ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = [key.strip().encode() if isinstance(key, str) else bytes(key).strip() for key in keys or ()]
    keys = [key for key in keys if key]
    if keys:
        return keys
    key_file = getattr(settings, "FACES_ENCRYPTION_KEY_FILE", None)
    if not key_file:
        raise ImproperlyConfigured(f"FACES_ENCRYPTION_KEYS is not set; generate a key with `{GENERATE_COMMAND}`.")
    return [_key_from_file(Path(key_file))]


def _key_from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
        try:
            # A hard link never replaces an existing file: of two processes starting at once, one key wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes().strip()


def _multi_fernet() -> MultiFernet:
    instance = _fernet["instance"]
    if instance is None:
        with _lock:
            try:
                fernets = [Fernet(key) for key in configured_keys()]
            except ValueError as error:
                raise ImproperlyConfigured(
                    f"FACES_ENCRYPTION_KEYS holds a value that is not a Fernet key ({error}); "
                    f"generate one with `{GENERATE_COMMAND}`."
                ) from None
            instance = MultiFernet(fernets)
            _fernet.update(instance=instance, first=fernets[0])
    return instance


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    if setting in SETTINGS:
        _fernet.update(instance=None, first=None)


def is_encrypted(data: bytes) -> bool:
    return bytes(data[: len(TOKEN_PREFIX)]) == TOKEN_PREFIX


def encrypt(data: bytes) -> bytes:
    return _multi_fernet().encrypt(bytes(data))


def decrypt(token: bytes) -> bytes:
    """The plaintext of a token; FaceDataUnreadable when no configured key made it."""
    try:
        return _multi_fernet().decrypt(bytes(token))
    except InvalidToken:
        raise FaceDataUnreadable() from None


def reveal(data: bytes) -> bytes:
    """Stored bytes in the clear: a token decrypted, or a row or file written before encryption as it is."""
    return decrypt(data) if is_encrypted(data) else bytes(data)


def rotate(token: bytes) -> bytes:
    """``token`` re-encrypted with the first key (plaintext written before encryption: encrypted)."""
    if not is_encrypted(token):
        return encrypt(token)
    try:
        return _multi_fernet().rotate(bytes(token))
    except InvalidToken:
        raise FaceDataUnreadable() from None


def encrypted_with_current_key(token: bytes) -> bool:
    """Whether the first key already decrypts ``token`` (rotation skips it)."""
    if not is_encrypted(token):
        return False
    _multi_fernet()
    try:
        _fernet["first"].decrypt(bytes(token))
    except InvalidToken:
        return False
    return True
