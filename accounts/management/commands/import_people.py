"""Import people and groups from a CSV file (the columns: docs/operations.md, "Bulk setup").

Prints one line per row: what it does (create, update, unchanged) or its errors. With any error
nothing is imported and the command exits non-zero; --dry-run only prints. --by USERNAME imports as
that staff member (new groups are theirs, and only an administrator may import staff); without it,
as an administrator, and new groups have no owner.

    python manage.py import_people pupils.csv --dry-run
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts import importing
from accounts.models import STAFF_ROLES, User


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="print what the file would do; write nothing")
        parser.add_argument("--by", help="the username of the staff member importing (default: an administrator)")

    def handle(self, *args, file: Path, dry_run: bool, by: str | None, **options):
        importer = None
        if by:
            importer = User.objects.filter(username=by, is_active=True, role__in=STAFF_ROLES).first()
            if importer is None:
                raise CommandError(f"--by {by}: no active staff account of that name.")
        try:
            with file.open("rb") as handle:
                text = importing.decode_csv(handle.read(importing.MAX_BYTES + 1))
            if dry_run:
                plan = importing.plan_import(text=text, by=importer)
            else:
                result = importing.apply_import(text=text, by=importer)
                plan = result.plan
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror or error}") from error
        except importing.ImportRefused as error:
            raise CommandError(f"{file}: {error.message}") from error
        for row in plan.rows:
            outcome = f"error: {'; '.join(row.errors)}" if row.errors else row.action
            changes = f" ({'; '.join(row.changes)})" if row.changes else ""
            self.stdout.write(f"line {row.line}: {row.external_id or '-'} {row.name}: {outcome}{changes}")
        if plan.has_errors:
            raise CommandError(f"{len(plan.error_rows)} row(s) with errors: nothing was imported.")
        counts, groups = plan.counts, len(plan.new_groups)
        if dry_run:
            self.stdout.write(
                f"{counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged; "
                f"{groups} new group(s). Memberships are added, never removed.\nDry run: nothing was written."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts['create']} created, {counts['update']} updated, {counts['unchanged']} unchanged; "
                f"{groups} new group(s). Memberships are added, never removed."
            )
        )
