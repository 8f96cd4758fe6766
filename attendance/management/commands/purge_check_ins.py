"""Delete expired pending check-ins (and their captured frames), evidence older than
ATTENDANCE["EVIDENCE_DAYS"] (with its face crops; the records stay) and old Idempotency-Key answers.

Run it daily (cron or a scheduler); frames of faces nobody reviewed should not linger.
"""

from django.core.management.base import BaseCommand

from attendance.services import purge_expired


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        pending, evidence, answers = purge_expired()
        self.stdout.write(
            f"Deleted {pending} expired pending check-in(s), the evidence of {evidence} mark(s) "
            f"and {answers} old idempotency answer(s)."
        )
