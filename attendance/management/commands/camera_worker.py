"""Watch one IP camera through go2rtc and check in the faces it sees, until SIGTERM or Ctrl-C.

Run one process per camera: ``manage.py camera_worker --camera entrance``. ``--once`` takes a single
snapshot and exits, for cron and for checking a new camera. Cameras are configured in the admin.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from attendance.cameras import CameraWorker, Outcome, run_until_signalled
from attendance.models import Camera


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--camera", required=True, help="the camera's name, as configured in the admin")
        parser.add_argument("--once", action="store_true", help="take one snapshot, say what happened and exit")
        parser.add_argument("--interval", type=float, help="seconds between snapshots (default: the camera's)")

    def handle(self, *args, camera, once, interval, **options):
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        found = Camera.objects.filter(name=camera, is_active=True).first()
        if found is None:
            raise CommandError(f"No active camera named {camera!r}: add or activate it in the admin.")
        try:
            worker = CameraWorker(found, interval=interval)
        except ValidationError as error:
            raise CommandError(f"Camera {camera}: {' '.join(error.messages)}") from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        if once:
            self._poll_once(worker)
        else:
            self._run(worker)

    def _poll_once(self, worker: CameraWorker) -> None:
        poll = worker.poll_once()
        if poll.outcome is Outcome.ERROR:
            raise CommandError(f"Camera {worker.camera}: {poll.error}")
        if poll.outcome is Outcome.IDLE:
            self.stdout.write(f"idle: no session is running at {worker.camera.location}")
            return
        marked = ", ".join(f"{record.person} ({record.status})" for record in poll.marked)
        self.stdout.write(f"{poll.outcome}" + (f": marked {marked}" if marked else ""))

    def _run(self, worker: CameraWorker) -> None:
        [outcome] = run_until_signalled({f"camera-{worker.camera}": worker.run}).values()
        if isinstance(outcome, BaseException):
            raise CommandError(f"Camera {worker.camera} stopped on an error: {outcome}") from outcome
