"""Delete personal data past its settings.RETENTION limit (attendx.retention): review frames, evidence
crops, attempts not judged live, stored check-in answers, the face templates of people who left, and
finished face jobs with their staged photos.

Beat runs it hourly (SCHEDULE_PURGE); running it again deletes nothing more. ``--dry-run`` only counts.
"""

from django.core.management.base import BaseCommand

from attendx.retention import Purged, purge


def describe(purged: Purged, *, verb: str) -> str:
    return (
        f"{verb} {purged.review_frames} review frame(s), the evidence of {purged.evidence} mark(s), "
        f"{purged.not_live} attempt(s) not judged live, {purged.check_in_answers} stored check-in answer(s), "
        f"{purged.face_samples} face sample(s) of {purged.people_who_left} person(s) who left, "
        f"{purged.face_jobs} finished face job(s) and {purged.staged_uploads} folder(s) of staged photos."
    )


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")

    def handle(self, *args, dry_run=False, **options):
        purged = purge(dry_run=dry_run)
        self.stdout.write(describe(purged, verb="Would delete" if dry_run else "Deleted"))
