"""Delete AttendX keys from Redis by glob pattern.

The pattern is matched inside the project's key prefix, so another application's keys on the same
server are never touched: ``emb:*`` clears cached face embeddings, ``session:*`` cached sessions
(they are reloaded from the database), ``*`` everything of ours.
"""

from django.core.management.base import BaseCommand, CommandError

from attendx.cache import get_redis_client


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--pattern", default="*", help="glob pattern inside the AttendX namespace (default: *)")
        parser.add_argument("--dry-run", action="store_true", help="count the matching keys, delete nothing")

    def handle(self, *args, pattern, dry_run, **options):
        client = get_redis_client()
        if not client.is_connected:
            raise CommandError(
                "Redis is unavailable: nothing was cleared. Check REDIS_URL and `manage.py cache_status`."
            )
        if dry_run:
            count = client.count_pattern(pattern)
            verb = "Would remove"
        else:
            count = client.clear_pattern(pattern)
            verb = "Removed"
        if count is None:
            raise CommandError("Redis became unavailable while clearing; run the command again.")
        self.stdout.write(self.style.SUCCESS(f"{verb} {count} key{'s' if count != 1 else ''} matching {pattern!r}."))
