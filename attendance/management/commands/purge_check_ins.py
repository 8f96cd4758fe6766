"""Delete expired pending check-ins (and their captured frames) and old Idempotency-Key answers.

Run it daily (cron or a scheduler); frames of faces nobody reviewed should not linger.
"""

from django.core.management.base import BaseCommand

from attendance.services import purge_expired


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        pending, answers = purge_expired()
        self.stdout.write(f"Deleted {pending} expired pending check-in(s) and {answers} old idempotency answer(s).")
