"""Celery tasks of the attendance app (the schedule is settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task


@shared_task
def purge_check_ins() -> list[int]:
    """What `manage.py purge_check_ins` does: expired review frames, evidence and idempotency answers."""
    from attendance.services import purge_expired

    return list(purge_expired())
