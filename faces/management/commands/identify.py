"""Identify the faces in images: one JSON line per image, nothing written to the database.

Each face gets its box (x, y, width, height), the matched identity or null, the distance to the
nearest enrolled person, and the decision: accept, review or reject.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from faces.exceptions import ImageRejected, RecognitionUnavailable
from faces.identification import face_identify
from faces.uploads import decode_upload


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("images", nargs="+", type=Path)

    def handle(self, *args, images: list[Path], **options):
        unreadable = 0
        for path in images:
            line = {"image": str(path)}
            try:
                image = decode_upload(path.read_bytes(), filename=path.name)
                line["faces"] = [result.to_json() for result in face_identify(image=image, remember=True)]
            except (OSError, ImageRejected) as error:
                unreadable += 1
                line["error"] = getattr(error, "message", None) or str(error)
            except RecognitionUnavailable as error:
                raise CommandError(error.message) from error
            self.stdout.write(json.dumps(line))
        if unreadable:
            raise CommandError(f"{unreadable} of {len(images)} images could not be read.")
