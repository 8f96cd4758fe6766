"""Poll every active IP camera through go2rtc and enqueue the frames for Celery workers, until SIGTERM.

One process for many cameras, one thread each: ``manage.py camera_poller`` (all active cameras) or
``--camera entrance --camera hall``. Recognition runs in ``celery -A attendx worker -Q frames`` on any
host (docs/cameras.md). Restart the poller after adding or deactivating a camera in the admin.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from attendance.cameras import CameraPoller, run_until_signalled
from attendance.models import Camera


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--camera", action="append", help="only this camera (repeat for more); default: all active")
        parser.add_argument("--interval", type=float, help="seconds between snapshots (default: each camera's)")

    def handle(self, *args, camera, interval, **options):
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        cameras = Camera.objects.filter(is_active=True)
        if camera:
            cameras = cameras.filter(name__in=camera)
            missing = sorted(set(camera) - {found.name for found in cameras})
            if missing:
                raise CommandError(f"No active camera named {', '.join(missing)}: add or activate it in the admin.")
        pollers = []
        for found in cameras:
            try:
                pollers.append(CameraPoller(found, interval=interval))
            except ValidationError as error:
                raise CommandError(f"Camera {found}: {' '.join(error.messages)}") from error
            except ValueError as error:
                raise CommandError(str(error)) from error
        if not pollers:
            raise CommandError("No active camera: add one in the admin.")
        self._run(pollers)

    def _run(self, pollers: list[CameraPoller]) -> None:
        self.stdout.write(f"polling {len(pollers)} camera(s): {', '.join(str(p.camera) for p in pollers)}")
        outcomes = run_until_signalled({f"camera-{poller.camera}": poller.run for poller in pollers})
        failed = {name: error for name, error in outcomes.items() if isinstance(error, BaseException)}
        if failed:
            name, error = next(iter(failed.items()))
            raise CommandError(f"{name} stopped on an error: {error}") from error
