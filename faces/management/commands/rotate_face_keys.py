"""Re-encrypt every face template and face file with the first key of FACES_ENCRYPTION_KEYS.

Put the new key first (FACES_ENCRYPTION_KEYS=new,old), run this, then drop the old key. Safe to run
again: data the first key already reads is left alone; rows and files from before encryption are
encrypted. --dry-run only counts.
"""

from django.core.management.base import BaseCommand, CommandError

from faces.crypto import FaceDataUnreadable
from faces.key_rotation import rotate_face_data


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="rows read at a time")
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted, change nothing")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            rotation = rotate_face_data(batch_size=batch_size, dry_run=dry_run)
        except FaceDataUnreadable as error:
            raise CommandError(error.message) from None
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            f"Embeddings: {verb} {rotation.embeddings_rotated}, {rotation.embeddings_current} already current.\n"
            f"Face files: {verb} {rotation.files_rotated}, {rotation.files_current} already current."
        )
