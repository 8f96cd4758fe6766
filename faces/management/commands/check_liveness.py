"""Judge one sequence of frames (image files in capture order, about 10 a second) for liveness, with the
code the kiosks and cameras use (faces.liveness.judge_frames), and print one JSON line.

"live" is true or false; an inconclusive verdict (too little motion, a challenge not done) prints false
with its reason, and "inconclusive": true. Exits with an error, never a traceback, for a file that is
missing or not an image, an unknown challenge, or a landmark model that is not installed.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from faces.engine import EngineError
from faces.exceptions import ImageRejected
from faces.landmarks import LandmarksUnavailable
from faces.liveness import CHALLENGES, judge_frames
from faces.uploads import decode_upload


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("frames", nargs="+", type=Path, metavar="FRAME")
        parser.add_argument(
            "--challenge",
            metavar="NAME",
            help=f"The challenge the person was given: one of {', '.join(sorted(CHALLENGES))}.",
        )

    def handle(self, *args, frames: list[Path], challenge: str | None, **options):
        if challenge is not None and challenge not in CHALLENGES:
            raise CommandError(f"Unknown challenge {challenge!r}: use one of {', '.join(sorted(CHALLENGES))}.")
        images = []
        for path in frames:
            try:
                images.append(decode_upload(path.read_bytes(), filename=path.name, frame=True).rgb)
            except OSError as error:
                raise CommandError(f"{path}: cannot be read ({error.strerror or error}).") from error
            except ImageRejected as error:
                raise CommandError(f"{path}: {error.message}") from error
        try:
            verdict = judge_frames(images, challenge=challenge)
        except (LandmarksUnavailable, EngineError) as error:
            raise CommandError(str(error)) from error
        line = verdict.to_json()
        line["inconclusive"] = verdict.live is None
        line["live"] = verdict.live is True
        self.stdout.write(json.dumps(line))
