"""Post one IP camera's go2rtc snapshots to an AttendX server with the camera device's token, until
SIGTERM or Ctrl-C: a camera on another host, with no database of its own (docs/cameras.md, section 5).

    ATTENDX_DEVICE_TOKEN=atx_... python manage.py camera_client \\
        --server https://attendx.example.org --go2rtc http://127.0.0.1:1984 --stream entrance

The token comes from ATTENDX_DEVICE_TOKEN or --token-file, never from the command line (which other
users of the machine can read). Issue it with `manage.py issue_device_token NAME --kind camera` on the
server. Exits non-zero when the server refuses the token.
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from attendance.cameras import run_until_signalled
from attendance.remote_camera import RemoteCamera, Sent


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--server", required=True, help="the AttendX server's address, e.g. https://attendx.example.org"
        )
        parser.add_argument(
            "--go2rtc", default="http://127.0.0.1:1984", help="this host's go2rtc (default: %(default)s)"
        )
        parser.add_argument("--stream", required=True, help="the stream's name in go2rtc.yaml")
        parser.add_argument("--token-file", type=Path, help="a file holding the device token")
        parser.add_argument("--interval", type=float, help="seconds between snapshots")
        parser.add_argument("--once", action="store_true", help="one step, say what happened and exit")

    def handle(self, *args, server, go2rtc, stream, token_file, interval, once, **options):
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        token = self._token(token_file)
        try:
            camera = RemoteCamera(server=server, token=token, go2rtc_url=go2rtc, stream=stream, interval=interval)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if once:
            step = camera.poll_once()
            if step.sent in (Sent.ERROR, Sent.REVOKED):
                raise CommandError(f"camera {stream}: {step.error}")
            self.stdout.write(str(step.sent) + (f": marked {', '.join(step.marked)}" if step.marked else ""))
            return
        [outcome] = run_until_signalled({f"camera-{stream}": camera.run}).values()
        if isinstance(outcome, BaseException):
            raise CommandError(f"camera {stream} stopped on an error: {outcome}") from outcome
        if outcome is not None:  # the server refused the token
            raise CommandError(f"camera {stream}: {outcome.error}")

    def _token(self, token_file: Path | None) -> str:
        if token_file is not None:
            try:
                token = token_file.read_text().strip()
            except OSError as error:
                raise CommandError(f"Cannot read the token file {token_file}: {error.strerror}") from error
        else:
            token = os.environ.get("ATTENDX_DEVICE_TOKEN", "").strip()
        if not token:
            raise CommandError("Give the device token in ATTENDX_DEVICE_TOKEN or --token-file.")
        return token
