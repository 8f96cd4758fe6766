"""Watch one IP camera through go2rtc and check in the faces it sees, until SIGTERM or Ctrl-C.

Run one process per camera: ``manage.py camera_worker --camera entrance``. ``--once`` takes a single
snapshot and exits, for cron and for checking a new camera. Cameras are configured in the admin.
"""

import signal
import threading

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from attendance.cameras import CameraWorker, Outcome
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
        # The loop runs in a thread and the main thread only waits for it: a signal handler that sets the
        # event could deadlock if it interrupted the same thread inside Event.wait().
        stop = threading.Event()
        failures: list[BaseException] = []

        def loop():
            try:
                worker.run(stop)
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                failures.append(error)
            finally:
                connection.close()

        def request_stop(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        thread = threading.Thread(target=loop, name=f"camera-{worker.camera}")
        try:
            thread.start()
            thread.join()
        finally:
            stop.set()
            thread.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failures:
            raise CommandError(f"Camera {worker.camera} stopped on an error: {failures[0]}") from failures[0]
