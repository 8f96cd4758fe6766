"""Deprecated: the old name of ``manage.py purge`` (attendx.retention), which it runs; the one purge
deletes everything past its settings.RETENTION limit."""

from django.core.management.base import BaseCommand

from attendx.management.commands.purge import describe
from attendx.retention import purge


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        self.stderr.write("purge_check_ins is deprecated: run `manage.py purge`.")
        self.stdout.write(describe(purge(), verb="Deleted"))
