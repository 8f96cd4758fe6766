"""Celery tasks of the project as a whole (the schedule is settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task


@shared_task
def purge() -> dict[str, int]:
    """What `manage.py purge` does: delete what is past its RETENTION limit; safe to run twice."""
    from dataclasses import asdict

    from attendx.retention import purge as purge_expired_data

    return asdict(purge_expired_data())
