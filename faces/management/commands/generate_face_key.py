"""Print a new key for FACES_ENCRYPTION_KEYS (a Fernet key). To rotate, put it first in the list, run
`rotate_face_keys`, then remove the old key. Keep it outside the database, and back it up: without it
no stored face can be read."""

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = __doc__
    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
