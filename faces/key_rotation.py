"""Re-encrypt every stored face template and face file with the first of FACES_ENCRYPTION_KEYS, so that
older keys can then leave the setting; data written before encryption is encrypted on the way.

Idempotent: what the first key already decrypts is left alone. Rows go in batches by primary key.
"""

from dataclasses import dataclass

from accounts.audit import audit
from accounts.models import AuditAction
from faces import crypto
from faces.models import FaceSample
from faces.storage import private_face_storage


@dataclass(frozen=True)
class Rotation:
    embeddings_rotated: int
    embeddings_current: int
    files_rotated: int
    files_current: int


def rotate_face_data(*, batch_size: int = 500, dry_run: bool = False) -> Rotation:
    """Rotate every FaceSample embedding and every file of the private face storage; audited unless
    ``dry_run`` (which only counts). Raises crypto.FaceDataUnreadable when no configured key reads a token.
    """
    embeddings = _rotate_embeddings(batch_size=batch_size, dry_run=dry_run)
    files = _rotate_files(dry_run=dry_run)
    rotation = Rotation(*embeddings, *files)
    if not dry_run:
        audit(
            action=AuditAction.KEYS_ROTATED,
            actor=None,
            embeddings=rotation.embeddings_rotated,
            files=rotation.files_rotated,
        )
    return rotation


def _rotate_embeddings(*, batch_size: int, dry_run: bool) -> tuple[int, int]:
    rotated = current = 0
    rows = FaceSample.objects.order_by("pk")
    last = None
    while True:
        batch = list((rows if last is None else rows.filter(pk__gt=last)).values_list("pk", "embedding")[:batch_size])
        if not batch:
            return rotated, current
        for pk, stored in batch:
            if crypto.encrypted_with_current_key(stored):
                current += 1
                continue
            token = crypto.rotate(stored)
            if not dry_run:
                # update(), not save(): the vector is the same, so updated_at and the gallery stay as they are.
                FaceSample.objects.filter(pk=pk, embedding=stored).update(embedding=token)
            rotated += 1
        last = batch[-1][0]


def _rotate_files(*, dry_run: bool) -> tuple[int, int]:
    storage = private_face_storage()
    rotated = current = 0
    for name in list(storage.walk()):
        try:
            stored = storage.stored_bytes(name)
        except FileNotFoundError:
            continue  # deleted since the listing
        if crypto.encrypted_with_current_key(stored):
            current += 1
            continue
        token = crypto.rotate(stored)
        if not dry_run:
            storage.replace_stored_bytes(name, token)
        rotated += 1
    return rotated, current
