"""Report the health of the Redis server behind the cache, sessions and rate limits.

Exits with status 1 when Redis is unavailable, so it can serve as a probe; the application itself
keeps working without Redis.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from attendx.cache import get_redis_client


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        client = get_redis_client()
        location = settings.CACHES["default"]["LOCATION"]
        info = client.info()
        if info is None:
            self.stdout.write(f"Redis: unavailable at {location}")
            self.stdout.write("The application is running without Redis caching: sessions come from the database,")
            self.stdout.write("rate-limited views answer 503 until Redis is back.")
            raise CommandError("Redis is unavailable.")
        hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
        lookups = hits + misses
        rate = f"{100 * hits / lookups:.1f}%" if lookups else "n/a"
        namespaces = client.key_counts_by_namespace() or {}
        db_index = client.cache.client.get_client().connection_pool.connection_kwargs.get("db", 0)
        lines = [
            f"Redis: connected at {location}",
            f"Server version: {info.get('redis_version', '?')}",
            f"Used memory: {info.get('used_memory_human', '?')}",
            f"Keys in database: {info.get(f'db{db_index}', {}).get('keys', 0)}",
            f"Hits: {hits}  Misses: {misses}  Hit rate: {rate}",
            f"Keys per namespace (prefix {settings.REDIS_KEY_PREFIX!r}):",
        ]
        lines += [f"  {name:<20} {count}" for name, count in namespaces.items()] or ["  (none)"]
        self.stdout.write(self.style.SUCCESS(lines[0]))
        self.stdout.write("\n".join(lines[1:]))
